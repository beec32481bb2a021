/**
 * Setup URL and option parsing: one validation step, at `setup`, that names what is wrong.
 * Also the helpers the backends' scheme specs share (lazy module loading, URL checks), which run
 * in the core without loading a backend.
 * @module
 */
import { parseDuration } from "./durations.js";
import { CacheConfigError, messageOf } from "./errors.js";
import type { Backend, BackendConfig } from "./backends/types.js";

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

export type OptionKind = "boolean" | "duration" | "int" | "string" | "serializer" | "object";

export interface OptionSpec {
  kind: OptionKind;
  default?: unknown;
  /** Smallest accepted value for `int`. */
  min?: number;
}

/** What a backend module exports. */
export interface BackendModule {
  create(config: BackendConfig): Backend;
}

/** Describes a URL scheme: its options (validated without loading the backend) and how to load it. */
export interface SchemeSpec {
  schemes: readonly string[];
  options: Readonly<Record<string, OptionSpec>>;
  /** Query-parameter spellings that map to another option name. */
  aliases?: Readonly<Record<string, string>>;
  /** The backend module; a function returning a promise loads it lazily. */
  module: BackendModule | (() => Promise<BackendModule>);
  /**
   * Checks what the option kinds cannot (URL shape, ports, combinations) at `setup`, without
   * loading the backend. Throws {@link CacheConfigError}.
   */
  validate?(config: BackendConfig): void;
}

/** Options every backend accepts. */
export interface CommonOptions {
  prefix: string;
  enable: boolean;
  secret: string | undefined;
  safe: boolean;
  timeout: number | undefined;
  serializer: Serializer | undefined;
}

const COMMON: Readonly<Record<string, OptionSpec>> = {
  prefix: { kind: "string", default: "" },
  enable: { kind: "boolean", default: true },
  disable: { kind: "boolean" },
  secret: { kind: "string" },
  safe: { kind: "boolean", default: true },
  timeout: { kind: "duration" },
  serializer: { kind: "serializer" },
};

const registry = new Map<string, SchemeSpec>();

/** Registers a URL scheme (used by backend entry points). A later registration replaces an earlier one. */
export function registerScheme(spec: SchemeSpec): void {
  for (const scheme of spec.schemes) {
    // An entry point that registered its module eagerly (`import "cashews/redis"`) wins over the
    // core's lazy registration, whichever module is evaluated first.
    if (typeof spec.module === "function" && typeof registry.get(scheme)?.module === "object") continue;
    registry.set(scheme, spec);
  }
}

export interface ParsedSetup {
  scheme: string;
  spec: SchemeSpec;
  common: CommonOptions;
  backend: BackendConfig;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Parses and validates a setup URL and options. Throws {@link CacheConfigError} naming the problem. */
export function parseSetup(url: string, options: Record<string, unknown> = {}): ParsedSetup {
  if (typeof url !== "string") throw new CacheConfigError(`setup: the URL must be a string, got ${typeof url}`);
  const match = SCHEME.exec(url);
  if (!match) {
    throw new CacheConfigError(`setup: ${JSON.stringify(url)} is not a cache URL; expected e.g. "mem://" or "redis://localhost:6379"`);
  }
  const scheme = match[1]!.toLowerCase();
  const spec = registry.get(scheme);
  if (!spec) {
    throw new CacheConfigError(`setup: unknown scheme "${scheme}://"; known schemes: ${[...registry.keys()].join("://, ")}://`);
  }
  const where = `setup("${scheme}://"): `;
  const [base, query] = url.split(/\?(.*)/s) as [string, string?];
  // By canonical name; the options object wins over the query.
  const raw: Record<string, [value: unknown, from: string, query?: boolean]> = {};
  const add = (name: string, value: unknown, from: string, isQuery?: boolean): void => {
    const camel = name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    raw[spec.aliases?.[camel] ?? (camel === "hashKey" ? "secret" : camel)] = [value, `${from} "${name}"`, isQuery];
  };
  if (query !== undefined) for (const [name, value] of new URLSearchParams(query)) add(name, value, "query parameter", true);
  for (const [name, value] of Object.entries(options)) if (value !== undefined) add(name, value, "option");
  const values: Record<string, unknown> = {};
  const backend: Record<string, unknown> = {};
  for (const [name, [value, from, isQuery]] of Object.entries(raw)) {
    const optionSpec = COMMON[name] ?? spec.options[name];
    if (!optionSpec) {
      const known = [...Object.keys(COMMON), ...Object.keys(spec.options)].filter((n) => n !== "disable").sort();
      throw new CacheConfigError(`${where}unknown ${from}; known options: ${known.join(", ")}`);
    }
    (name in COMMON ? values : backend)[name] = convert(value, optionSpec, where + from, isQuery);
  }
  for (const [name, optionSpec] of Object.entries(spec.options)) {
    if (!(name in backend) && optionSpec.default !== undefined) backend[name] = optionSpec.default;
  }
  const common: CommonOptions = {
    prefix: (values.prefix as string | undefined) ?? "",
    enable: values.disable !== true && values.enable !== false,
    secret: values.secret as string | undefined,
    safe: values.safe !== false,
    timeout: values.timeout as number | undefined,
    serializer: values.serializer as Serializer | undefined,
  };
  if (common.secret === "") throw new CacheConfigError(`${where}"secret" must not be empty`);
  const config = { url: base, options: { ...backend, timeout: common.timeout } };
  spec.validate?.(config);
  return { scheme, spec, common, backend: config };
}

/** Loads the module of a scheme, turning a missing optional dependency into a clear error. */
export async function loadModule(spec: SchemeSpec, scheme: string): Promise<BackendModule> {
  if (typeof spec.module !== "function") return spec.module;
  try {
    return await spec.module();
  } catch (error) {
    throw new CacheConfigError(`setup("${scheme}://"): could not load the backend: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

const TRUE = ["1", "true", "yes", "on"];
const FALSE = ["0", "false", "no", "off"];

function convert(value: unknown, spec: OptionSpec, where: string, query?: boolean): unknown {
  const fail = (what: string): never => {
    throw new CacheConfigError(`${where} must be ${what}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  };
  switch (spec.kind) {
    case "boolean": {
      if (typeof value === "boolean") return value;
      const lower = typeof value === "string" ? value.toLowerCase() : "";
      return TRUE.includes(lower) || (FALSE.includes(lower) ? false : fail("a boolean (1/0/true/false/yes/no)"));
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
  }
}

// ---- shared by the scheme specs of the network backends (redis/spec.ts, upstash/spec.ts) ----

/** Rejects a backend URL with a query: options go in an object. */
export function rejectQuery(label: string, url: string): void {
  if (url.includes("?")) {
    throw new CacheConfigError(`${label}: pass options as an object, not in the URL's query (${JSON.stringify(url)})`);
  }
}

/** `new URL(text)` for a backend URL `url`, which must have no query and no fragment. */
export function parseBackendUrl(label: string, url: string, text = url): URL {
  rejectQuery(label, url);
  let parsed: URL | undefined;
  let cause: unknown;
  try {
    parsed = new URL(text);
  } catch (error) {
    cause = error;
  }
  if (parsed === undefined || parsed.hash) {
    throw new CacheConfigError(`${label}: invalid URL ${JSON.stringify(url)}${parsed ? " (it has a fragment)" : ""}`, parsed ? undefined : { cause });
  }
  return parsed;
}

/** Rejects options that a supplied `client` brings itself. */
export function rejectClash(label: string, clash: string[]): void {
  if (clash.length > 0) throw new CacheConfigError(`${label}: with option "client", configure ${clash.join(", ")} on the client itself`);
}

/**
 * A lazy loader of the backend entry `cashews/<name>`, whose module export is `<name>Module`.
 * Specifiers are built at run time so that neither bundlers (esbuild, Vite's `new URL(…,
 * import.meta.url)` asset handling) nor `tsc` follow them: bundling `cashews` never pulls the
 * client library in.
 *
 * - Built (`dist/`): the package entry `cashews/<name>`, resolved by Node, Bun and Deno through the
 *   package's own `exports` (package self-reference), so it shares the core's chunk (one scheme
 *   registry, one set of error classes). If that fails, `./<name>.js` next to this chunk.
 * - From source (this file ends in `.ts`: vitest, tsx, Deno or Bun on `src/`): `src/<name>.ts`, so
 *   source never mixes with a stale or missing `dist/`.
 *
 * A missing peer dependency `dependency` becomes an error that says how to install it.
 */
export function lazyModule(name: string, dependency: string): () => Promise<BackendModule> {
  const entry = `cashews/${name}`;
  return async () => {
    const here = typeof import.meta.url === "string" ? import.meta.url : "";
    const candidates = /\.[cm]?tsx?$/.test(here)
      ? [new URL(`./${name}.ts`, here).href]
      : here
        ? [entry, new URL(`./${name}.js`, here).href]
        : [entry];
    let first: unknown;
    for (const specifier of candidates) {
      let loaded: Record<string, BackendModule | undefined>;
      try {
        loaded = await import(/* @vite-ignore */ specifier);
      } catch (error) {
        if (new RegExp(`['"]${dependency}['"]`).test(messageOf(error))) {
          throw new Error(
            `the ${name}:// backend needs the peer dependency "${dependency}": npm install ${dependency}`,
            { cause: error },
          );
        }
        first ??= error;
        continue;
      }
      const module = loaded[`${name}Module`];
      if (typeof module?.create !== "function") throw new Error(`"${specifier}" does not export the ${name} backend module`);
      return module;
    }
    throw new Error(
      `could not import "${entry}" (${messageOf(first)}); when bundling, add \`import "${entry}"\``,
      { cause: first },
    );
  };
}
