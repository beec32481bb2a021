/**
 * Setup URL and option parsing: one validation step, at `setup`, that names what is wrong.
 * @module
 */
import { parseDuration } from "./durations.js";
import { CacheConfigError } from "./errors.js";
import type { Backend, BackendConfig } from "./backends/types.js";

/** A custom value codec: `encode` must return a string that `decode` turns back into the value. */
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

const COMMON_ALIASES: Readonly<Record<string, string>> = { hashKey: "secret" };

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

/** Parses and validates a setup URL and options. Throws {@link CacheConfigError} naming the problem. */
export function parseSetup(url: string, options: Record<string, unknown> = {}): ParsedSetup {
  if (typeof url !== "string") throw new CacheConfigError(`setup: the URL must be a string, got ${typeof url}`);
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (!match) {
    throw new CacheConfigError(`setup: ${JSON.stringify(url)} is not a cache URL; expected e.g. "mem://" or "redis://localhost:6379"`);
  }
  const scheme = match[1]!.toLowerCase();
  const spec = registry.get(scheme);
  if (!spec) {
    throw new CacheConfigError(
      `setup: unknown scheme "${scheme}://"; known schemes: ${[...registry.keys()].map((s) => `${s}://`).join(", ")}`,
    );
  }
  const queryAt = url.indexOf("?");
  const base = queryAt === -1 ? url : url.slice(0, queryAt);
  const raw: Record<string, { value: unknown; from: string; query: boolean }> = {};
  if (queryAt !== -1) {
    for (const [name, value] of new URLSearchParams(url.slice(queryAt + 1))) {
      raw[canonical(name, spec)] = { value, from: `query parameter "${name}"`, query: true };
    }
  }
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    raw[canonical(name, spec)] = { value, from: `option "${name}"`, query: false };
  }

  const values: Record<string, unknown> = {};
  const backendOptions: Record<string, unknown> = {};
  for (const [name, { value, from, query }] of Object.entries(raw)) {
    const optionSpec = COMMON[name] ?? spec.options[name];
    if (!optionSpec) {
      const known = [...Object.keys(COMMON), ...Object.keys(spec.options)].filter((n) => n !== "disable").sort();
      throw new CacheConfigError(`setup("${scheme}://"): unknown ${from}; known options: ${known.join(", ")}`);
    }
    const converted = convert(value, optionSpec, `setup("${scheme}://"): ${from}`, query);
    if (name in COMMON) values[name] = converted;
    else backendOptions[name] = converted;
  }
  for (const [name, optionSpec] of Object.entries(spec.options)) {
    if (!(name in backendOptions) && optionSpec.default !== undefined) backendOptions[name] = optionSpec.default;
  }
  let enable = (values.enable as boolean | undefined) ?? true;
  if (values.disable === true) enable = false;
  const common: CommonOptions = {
    prefix: (values.prefix as string | undefined) ?? "",
    enable,
    secret: values.secret as string | undefined,
    safe: (values.safe as boolean | undefined) ?? true,
    timeout: values.timeout as number | undefined,
    serializer: values.serializer as Serializer | undefined,
  };
  if (common.secret === "") throw new CacheConfigError(`setup("${scheme}://"): "secret" must not be empty`);
  const backend = { url: base, options: { ...backendOptions, timeout: common.timeout } };
  spec.validate?.(backend);
  return { scheme, spec, common, backend };
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

function canonical(name: string, spec: SchemeSpec): string {
  const camel = name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return spec.aliases?.[camel] ?? COMMON_ALIASES[camel] ?? camel;
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

function convert(value: unknown, spec: OptionSpec, where: string, query: boolean): unknown {
  switch (spec.kind) {
    case "boolean":
      if (typeof value === "boolean") return value;
      if (typeof value === "string") {
        const lower = value.toLowerCase();
        if (TRUE.has(lower)) return true;
        if (FALSE.has(lower)) return false;
      }
      throw new CacheConfigError(`${where} must be a boolean (1/0/true/false/yes/no), got ${show(value)}`);
    case "duration":
      try {
        // A query value is text: a plain number there is milliseconds, like a number option.
        const numeric = query && typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value);
        return parseDuration(numeric ? Number(value) : (value as never));
      } catch (error) {
        throw new CacheConfigError(`${where}: ${(error as Error).message}`, { cause: error });
      }
    case "int": {
      const n = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
      if (typeof n !== "number" || !Number.isInteger(n) || (spec.min !== undefined && n < spec.min)) {
        const floor = spec.min !== undefined ? ` >= ${spec.min}` : "";
        throw new CacheConfigError(`${where} must be an integer${floor}, got ${show(value)}`);
      }
      return n;
    }
    case "string":
      if (typeof value === "string") return value;
      throw new CacheConfigError(`${where} must be a string, got ${show(value)}`);
    case "serializer":
      if (
        typeof value === "object" &&
        value !== null &&
        typeof (value as Serializer).encode === "function" &&
        typeof (value as Serializer).decode === "function"
      ) {
        return value;
      }
      throw new CacheConfigError(`${where} must be an object with encode(value) and decode(text) functions`);
    case "object":
      if (typeof value === "object" && value !== null) return value;
      throw new CacheConfigError(`${where} must be an object, got ${show(value)}`);
  }
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
