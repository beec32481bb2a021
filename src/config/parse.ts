/**
 * Setup URL and option parsing: one validation step, at `setup`, that names what is wrong.
 * @module
 */
import { parseDuration } from "../durations.js";
import { CacheConfigError } from "../errors.js";
import type { BackendConfig } from "../backends/types.js";
import { schemeNames, schemeSpec, type OptionSpec, type SchemeSpec } from "./registry.js";
import type { LocalOptions } from "./local.js";
import type { CompressFormat } from "../codec/compress.js";

export type { LocalOptions } from "./local.js";

/**
 * A custom value codec (the `serializer` setup option): `encode` must return a string that
 * `decode` turns back into the value.
 * @example
 * cache.setup("redis://localhost:6379", { serializer: { encode: JSON.stringify, decode: JSON.parse } });
 */
export interface Serializer {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/** Options every backend accepts. */
export interface CommonOptions {
  prefix: string;
  enable: boolean;
  secret: string | undefined;
  safe: boolean;
  timeout: number | undefined;
  serializer: Serializer | undefined;
  /** The local tier (`local` option), with defaults applied; undefined without one. */
  local: LocalOptions | undefined;
  /** The `compress` option: how texts of at least `compressThreshold` characters are compressed. */
  compress: CompressFormat | undefined;
  /** Characters of encoded text from which `compress` applies (default 1024). */
  compressThreshold: number;
}

/** The default of the `compressThreshold` option: texts shorter than this are stored as they are. */
export const COMPRESS_THRESHOLD = 1024;


/** The common options' kinds; their defaults (prefix `""`, enable and safe `true`) are applied in `parseSetup`. */
const COMMON: Readonly<Record<string, OptionSpec>> = {
  prefix: { kind: "string" },
  enable: { kind: "boolean" },
  disable: { kind: "boolean" },
  secret: { kind: "string" },
  safe: { kind: "boolean" },
  timeout: { kind: "duration" },
  serializer: { kind: "serializer" },
  local: { kind: "boolean" },
  localSize: { kind: "int", min: 1 },
  localTtl: { kind: "duration" },
  localGrace: { kind: "duration" },
  compress: { kind: "choice", values: ["gzip", "deflate"] },
  compressThreshold: { kind: "int", min: 0 },
};

export interface ParsedSetup {
  scheme: string;
  spec: SchemeSpec;
  common: CommonOptions;
  backend: BackendConfig;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** `object[key]` when it is an own property: `constructor` or `toString` is no option, alias or scheme. */
const own = <T>(object: Readonly<Record<string, T>> | undefined, key: string): T | undefined =>
  object && Object.hasOwn(object, key) ? object[key] : undefined;

/**
 * The schemes that come with an entry, and that entry (the registry is process-wide): Redis and
 * Upstash (which `cashews` also registers, loaded lazily), and the platforms' stores (only by their entry).
 */
const ENTRY_OF = /^(?:(redis)(?:s|\+cluster)?|(upstash)(?:\+http)?|(cloudflare-kv|cloudflare-cache|deno-kv))$/;

/** Parses and validates a setup URL and options. Throws {@link CacheConfigError} naming the problem. */
export function parseSetup(url: string, options: Record<string, unknown> = {}): ParsedSetup {
  if (typeof url !== "string") throw new CacheConfigError(`setup: the URL must be a string, got ${typeof url}`);
  const match = SCHEME.exec(url);
  if (!match) {
    throw new CacheConfigError(`setup: ${JSON.stringify(url)} is not a cache URL; expected e.g. "mem://" or "redis://localhost:6379"`);
  }
  const scheme = match[1]!.toLowerCase();
  const spec = schemeSpec(scheme);
  if (!spec) {
    const found = ENTRY_OF.exec(scheme);
    const hint = found ? `; import "cashews/${found[1] ?? found[2] ?? found[3]}" once, which registers it` : "";
    throw new CacheConfigError(`setup: unknown scheme "${scheme}://"; known schemes: ${schemeNames().join("://, ")}://${hint}`);
  }
  const where = `setup("${scheme}://"): `;
  const [base, query] = url.split(/\?(.*)/s) as [string, string?];
  // By canonical name; the options object wins over the query.
  // No prototype: a "__proto__" parameter is an entry like any other (and then an unknown option).
  const raw: Record<string, [value: unknown, from: string, query?: boolean]> = Object.create(null);
  const add = (name: string, value: unknown, from: string, isQuery?: boolean, shown = name): void => {
    const camel = name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    raw[own(spec.aliases, camel) ?? (camel === "hashKey" ? "secret" : camel)] = [value, `${from} "${shown}"`, isQuery];
  };
  if (query !== undefined) for (const [name, value] of new URLSearchParams(query)) add(name, value, "query parameter", true);
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    // local: { size, ttl, grace } is local: true with localSize, localTtl, localGrace.
    if (name === "local" && typeof value === "object" && value !== null) {
      add(name, true, "option");
      for (const [field, v] of Object.entries(value)) if (v !== undefined) add(`local_${field}`, v, "option", false, `local.${field}`);
    } else add(name, value, "option");
  }
  const values: Record<string, unknown> = {};
  const backend: Record<string, unknown> = {};
  for (const [name, [value, from, isQuery]] of Object.entries(raw)) {
    const common = own(COMMON, name);
    const optionSpec = common ?? own(spec.options, name);
    if (!optionSpec) {
      const known = [...Object.keys(COMMON), ...Object.keys(spec.options)].filter((n) => n !== "disable").sort();
      throw new CacheConfigError(`${where}unknown ${from}; known options: ${known.join(", ")}`);
    }
    (common ? values : backend)[name] = convert(value, optionSpec, where + from, isQuery);
  }
  // A converted value is never undefined or null: `??=` fills only the options not given.
  for (const [name, optionSpec] of Object.entries(spec.options)) if (optionSpec.default !== undefined) backend[name] ??= optionSpec.default;
  const common: CommonOptions = {
    prefix: (values.prefix as string | undefined) ?? "",
    enable: values.disable !== true && values.enable !== false,
    secret: values.secret as string | undefined,
    safe: values.safe !== false,
    timeout: values.timeout as number | undefined,
    serializer: values.serializer as Serializer | undefined,
    // A remote scheme's spec reads `local` (config/local.ts); elsewhere it is refused.
    local: spec.local ? spec.local(values, where) : noLocal(values, where),
    compress: values.compress as CompressFormat | undefined,
    compressThreshold: (values.compressThreshold as number | undefined) ?? COMPRESS_THRESHOLD,
  };
  if (values.compressThreshold !== undefined && !common.compress) throw new CacheConfigError(`${where}"compressThreshold" needs "compress" ("gzip" or "deflate")`);
  if (common.secret === "") throw new CacheConfigError(`${where}"secret" must not be empty`);
  const config: BackendConfig = { url: base, options: { ...backend, timeout: common.timeout } };
  if (common.local && spec.localNative) config.options.local = common.local;
  spec.validate?.(config);
  return { scheme, spec, common, backend: config };
}

function noLocal(values: Record<string, unknown>, where: string): undefined {
  for (const name in values) if (name.startsWith("local") && values[name] !== false) throw new CacheConfigError(`${where}"local" is for remote stores only`);
  return undefined;
}

function convert(value: unknown, spec: OptionSpec, where: string, query?: boolean): unknown {
  const fail = (what: string): never => {
    throw new CacheConfigError(`${where} must be ${what}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  };
  switch (spec.kind) {
    case "boolean": {
      if (typeof value === "boolean") return value;
      const text = typeof value === "string" ? value : "";
      return /^(1|true|yes|on)$/i.test(text) || (/^(0|false|no|off)$/i.test(text) ? false : fail("a boolean (1/0/true/false/yes/no)"));
    }
    case "duration":
      try {
        // A query value is text: a plain number there is milliseconds, like a number option.
        const numeric = query && /^\s*\d+(\.\d+)?\s*$/.test(value as string);
        return parseDuration(numeric ? Number(value) : (value as never));
      } catch (error) {
        throw new CacheConfigError(`${where}: ${(error as Error).message}`, { cause: error });
      }
    case "int": {
      const n = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
      const min = spec.min ?? -Infinity;
      return Number.isInteger(n) && (n as number) >= min ? n : fail(`an integer${spec.min === undefined ? "" : ` >= ${min}`}`);
    }
    case "string":
      return typeof value === "string" ? value : fail("a string");
    case "serializer":
      return typeof value === "object" && typeof (value as Serializer)?.encode === "function" && typeof (value as Serializer).decode === "function"
        ? value
        : fail("an object with encode(value) and decode(text) functions");
    case "object":
      return typeof value === "object" && value !== null ? value : fail("an object");
    case "choice":
      return spec.values!.includes(value as string) ? value : fail(`one of ${spec.values!.map((v) => JSON.stringify(v)).join(", ")}`);
  }
}
