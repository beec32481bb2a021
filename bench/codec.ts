// Codec micro-benchmark: decode/encode of the plain form against bare JSON.parse/JSON.stringify,
// the tagged form, validate, and HMAC sign/verify. Run with `node --import tsx bench/codec.ts`.
// Each pair is measured in interleaved rounds; medians (ns per op) are printed.
import { createSigner, decode, encode, validate } from "../src/codec/index.js";

const ROUNDS = 7;
const plain = { id: 42, name: "item 42", tags: ["a", "b"], price: 63, nested: { ok: true, at: "2024-01-01T00:00:00Z" } };
const tagged = { ...plain, at: new Date(0), missing: undefined, ids: new Set([1, 2, 3]) };
const plainText = JSON.stringify(plain);
const taggedText = encode(tagged);
let sink: unknown;

function measure(fn: () => unknown, ops: number): number {
  const started = performance.now();
  for (let i = 0; i < ops; i++) sink = fn();
  return ((performance.now() - started) * 1e6) / ops;
}

async function measureAsync(fn: () => Promise<unknown>, ops: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < ops; i++) sink = await fn();
  return ((performance.now() - started) * 1e6) / ops;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function compare(title: string, contenders: Record<string, () => unknown>, ops = 300_000): void {
  const results: Record<string, number[]> = {};
  for (const name of Object.keys(contenders)) measure(contenders[name]!, ops / 10); // warm up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(contenders)) (results[name] ??= []).push(measure(fn, ops));
  }
  console.log(title);
  for (const [name, times] of Object.entries(results)) console.log(`  ${name.padEnd(28)} ${median(times).toFixed(0).padStart(6)} ns/op`);
}

compare("decode, plain object", { "JSON.parse": () => JSON.parse(plainText), decode: () => decode(plainText) });
compare("decode, counter", { "JSON.parse": () => JSON.parse("12345"), decode: () => decode("12345") });
compare("encode, plain object", { "JSON.stringify": () => JSON.stringify(plain), encode: () => encode(plain), validate: () => validate(plain) });
compare("tagged object (Date, undefined, Set)", { encode: () => encode(tagged), decode: () => decode(taggedText) });

const signer = createSigner("bench secret");
const signed = await signer.sign("item:42", plainText);
const signResults: number[] = [];
const verifyResults: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  signResults.push(await measureAsync(() => signer.sign("item:42", plainText), 20_000));
  verifyResults.push(await measureAsync(() => signer.verify("item:42", signed), 20_000));
}
console.log("HMAC-SHA256 (Web Crypto)");
console.log(`  ${"sign".padEnd(28)} ${median(signResults).toFixed(0).padStart(6)} ns/op`);
console.log(`  ${"verify".padEnd(28)} ${median(verifyResults).toFixed(0).padStart(6)} ns/op`);
void sink;
