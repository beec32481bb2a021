/**
 * The common `local` option of the remote schemes (a local tier, see backends/local/tier.ts): read
 * by their specs (`SchemeSpec.local`), so that a bundle with no remote store carries none of it.
 * @module
 */
import { CacheConfigError } from "../errors.js";

/**
 * The local tier of a remote backend (`local: { size, ttl, grace }`, or `?local=1&localSize=…&
 * localTtl=…&localGrace=…`): a bounded copy of what this instance read or wrote, served without I/O.
 */
export interface LocalOptions {
  /** Entries held at most (default 10 000). */
  size: number;
  /** Longest life (ms) of a local entry (default 5 s): the staleness bound where no bus keeps it coherent. */
  ttl: number;
  /** How long (ms) past `ttl` an entry is served when the remote store fails or times out (default 0: never). */
  grace: number;
}

/** Defaults of the `local` option: 10 000 entries, 5 s, no grace. */
export const LOCAL_OPTION_DEFAULTS: Readonly<LocalOptions> = { size: 10_000, ttl: 5_000, grace: 0 };

/**
 * Reads the `local` option from the converted common options (the object form `local: { size,
 * ttl, grace }` arrives spread into `localSize`, `localTtl`, `localGrace`), with defaults; undefined
 * without `local`. Throws {@link CacheConfigError} for sizes without `local`, or a ttl of 0.
 * @example
 * localOption({ local: true, localTtl: 2000 }, ""); // { size: 10000, ttl: 2000, grace: 0 }
 */
export function localOption(values: Record<string, unknown>, where: string): LocalOptions | undefined {
  const local = { ...LOCAL_OPTION_DEFAULTS };
  let given = false;
  for (const name of ["size", "ttl", "grace"] as const) {
    const value = values[`local${name[0]!.toUpperCase()}${name.slice(1)}`] as number | undefined;
    if (value !== undefined) [local[name], given] = [value, true];
  }
  if (!values.local) {
    if (given) throw new CacheConfigError(`${where}localSize, localTtl and localGrace need local (?local=1, or local: { size, ttl, grace })`);
    return undefined;
  }
  if (!(local.ttl > 0)) throw new CacheConfigError(`${where}the local ttl must be more than 0 ms`);
  return local;
}
