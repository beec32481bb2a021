/**
 * The URL scheme registry: what a scheme's spec declares (its options, validated without loading
 * the backend, and how to load it) and the map from scheme to spec that `setup` looks up.
 * @module
 */
import type { Backend, BackendConfig } from "../backends/types.js";
import type { BackendCapabilities } from "../backends/capabilities.js";
import type { CacheConfigError } from "../errors.js";
import type { Bus } from "../backends/local/bus.js";
import type { LocalOptions } from "./local.js";

/** The kinds of a setup option (see {@link OptionSpec}). */
export type OptionKind = "boolean" | "duration" | "int" | "string" | "serializer" | "object" | "choice";

/**
 * How one setup option of a scheme is validated and converted (a query parameter is text: `"int"`
 * parses it, `"duration"` takes `"30s"` or ms, `"boolean"` takes 1/0/true/false/yes/no/on/off).
 * @example
 * const options: Record<string, OptionSpec> = { namespace: { kind: "string", default: "app" }, retries: { kind: "int", min: 0 } };
 */
export interface OptionSpec {
  kind: OptionKind;
  default?: unknown;
  /** Smallest accepted value for `int`. */
  min?: number;
  /** The accepted strings for `choice`. */
  values?: readonly string[];
}

/** What a backend module exports. */
export interface BackendModule {
  create(config: BackendConfig): Backend;
  /**
   * Puts the `local` option's tier in front of a backend of this module (`withLocalTier`,
   * backends/local/tier.ts); required by a scheme whose spec says `local: "tier"`.
   */
  localTier?(remote: Backend, options: LocalTierSettings, bus?: Bus): Backend;
}

/** What {@link BackendModule.localTier} takes (see `LocalTierOptions` in backends/local/tier.ts). */
export interface LocalTierSettings {
  size: number;
  ttl: number;
  grace?: number;
  onStale?: (key: string, error: unknown) => void;
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
  /** What the backend can do (see {@link BackendCapabilities}); absent flags are true. */
  capabilities?: Partial<BackendCapabilities>;
  /** The error for a command that needs a capability the backend lacks (message: what to use instead); required with `capabilities`. */
  refuse?(capability: keyof BackendCapabilities, command: string): Error;
  /**
   * Reads the common `local` option (`localOption`, config/local.ts) for a remote scheme; absent,
   * `local` is refused (a store that is local already, `mem://`). The backend module's
   * `localTier` puts the tier in front; without one the scheme takes it itself (`localNative`).
   */
  local?(values: Record<string, unknown>, where: string): LocalOptions | undefined;
  /** The backend takes `local` in `config.options.local` (Redis: onto `clientSide`). */
  localNative?: boolean;
}

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

/** The spec registered for `scheme` (lowercase, without `://`), if any. */
export function schemeSpec(scheme: string): SchemeSpec | undefined {
  return registry.get(scheme);
}

/** The registered schemes, in registration order. */
export function schemeNames(): string[] {
  return [...registry.keys()];
}
