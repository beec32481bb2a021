/**
 * Compression of stored texts (the `compress` setup option) with the web-standard
 * `CompressionStream` / `DecompressionStream`, on every runtime.
 *
 * Stored form: `"$z" + format letter + ":" + base64(compressed UTF-8 bytes of the encoded text)`,
 * `g` for gzip, `d` for deflate (the zlib format, RFC 1950), e.g. `"$zg:H4sIAAAA…"`. No encoded
 * value starts with `$` and a signed text starts with `$s1:`, so the marker is unambiguous: any
 * cache decompresses such a text, with or without the option. With a `secret`, the compressed
 * text is what gets signed (`"$s1:<mac>:$zg:…"`).
 * @module
 */
import { base64ToBytes, bytesToBase64 } from "../base64.js";

/** The formats of the `compress` option. */
export type CompressFormat = "gzip" | "deflate";

/** Every compressed text starts with this. */
export const COMPRESSED_PREFIX = "$z";
const LETTER: Record<CompressFormat, string> = { gzip: "g", deflate: "d" };

/** Whether `text` is a compressed text (it may still fail to decompress). */
export function isCompressed(text: string): boolean {
  return text.charCodeAt(0) === 36 /* $ */ && text.charCodeAt(1) === 122 /* z */ && text.charCodeAt(3) === 58 /* : */;
}

/** Whether this runtime has `CompressionStream` and `DecompressionStream`. */
export function canCompress(): boolean {
  return typeof globalThis.CompressionStream === "function" && typeof globalThis.DecompressionStream === "function";
}

/** Bytes through a (de)compression stream. */
async function pipe(bytes: BufferSource | string, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer());
}

/**
 * The stored form of `text` compressed with `format`, or `text` itself when compressing does not
 * make it shorter (already compressed or random data).
 */
export async function compress(text: string, format: CompressFormat): Promise<string> {
  const stored = COMPRESSED_PREFIX + LETTER[format] + ":" + bytesToBase64(await pipe(text, new CompressionStream(format)));
  return stored.length < text.length ? stored : text;
}

/**
 * The text of a compressed stored form. Rejects for an unknown format letter, bad base64 or
 * corrupt data, and where the runtime has no `DecompressionStream`.
 */
export async function decompress(stored: string): Promise<string> {
  const format = stored.slice(2, 4) === "g:" ? "gzip" : stored.slice(2, 4) === "d:" ? "deflate" : undefined;
  if (format === undefined) throw new Error(`unknown compression marker ${JSON.stringify(stored.slice(0, 4))}`);
  if (!canCompress()) throw new Error("this runtime has no DecompressionStream: it cannot read compressed values");
  const bytes = base64ToBytes(stored.slice(4));
  return new TextDecoder("utf-8", { fatal: true }).decode(await pipe(bytes, new DecompressionStream(format)));
}
