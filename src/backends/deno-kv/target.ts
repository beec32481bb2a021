/**
 * Where a `deno-kv://` setup points: the database path taken from the URL, or a supplied handle,
 * checked at `setup` without opening anything. No `Deno` type, no `node:*` import: this runs on
 * Deno, Deno Deploy, Node and Bun.
 *
 * URL forms (everything after `deno-kv://` is the path handed to `openKv`, percent-decoded):
 *
 * | URL                                   | database                                            |
 * | ------------------------------------- | --------------------------------------------------- |
 * | `deno-kv://`                          | the default one (`Deno.openKv()`: Deno, Deno Deploy) |
 * | `deno-kv:///var/data/cache.db`        | the file `/var/data/cache.db`                       |
 * | `deno-kv://./cache.db`                | `./cache.db`, relative to the working directory     |
 * | `deno-kv://:memory:`                  | a fresh in-memory database (one per backend)        |
 * | `deno-kv://https://api.deno.com/databases/<id>/connect` | a remote database (KV Connect) |
 *
 * A path holding `?` or `#` spells them `%3F` and `%23` (a query carries options).
 * @module
 */
import { failer, rejectQuery } from "../../config/url.js";

const fail = failer("deno-kv");

/** What a `deno-kv://` setup opens: a path (`undefined`: the runtime's default database) or a supplied handle. */
export interface DenoKvTarget {
  /** The path or URL handed to `openKv`; `undefined` for the default database (Deno only) or with `kv`. */
  path: string | undefined;
  /** The supplied, already opened handle (used as is, never closed by the backend). */
  kv: object | undefined;
}

/** The slice of the `Deno` global this backend reads. */
interface DenoGlobal {
  version?: { deno?: string };
  openKv?: (path?: string) => Promise<unknown>;
}

/**
 * The `Deno` global when running on Deno (or Deno Deploy), else `undefined`.
 * @example
 * const deno = denoRuntime();
 * if (deno && typeof deno.openKv !== "function") console.warn("run deno with --unstable-kv");
 */
export function denoRuntime(): DenoGlobal | undefined {
  const deno = (globalThis as { Deno?: DenoGlobal }).Deno;
  return typeof deno === "object" && deno !== null && typeof deno.version?.deno === "string" ? deno : undefined;
}

/**
 * Whether `value` looks like an opened Deno KV handle (`Deno.Kv` or @deno/kv's `Kv`): what option
 * `kv` must be.
 * @example
 * isKvHandle(await Deno.openKv(":memory:")); // true
 * isKvHandle({ get() {} });                  // false
 */
export function isKvHandle(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const kv = value as Record<string, unknown>;
  return ["get", "getMany", "set", "delete", "list", "atomic"].every((name) => typeof kv[name] === "function");
}

/**
 * Resolves and checks the target of a `deno-kv://` setup: the path from the URL, or the `kv`
 * option. Opens nothing, loads nothing.
 * @param url The setup URL without its query string.
 * @param options The converted scheme options (`kv`, `namespace`, …).
 * @returns The path (or `undefined`) and the supplied handle (or `undefined`).
 * @throws {CacheConfigError} A bad URL or escape, a path together with `kv`, a `kv` that is no KV
 * handle, `deno-kv://` without a path outside Deno, or Deno without `--unstable-kv`.
 * @example
 * resolveDenoKvTarget("deno-kv:///var/data/cache.db", {}); // { path: "/var/data/cache.db", kv: undefined }
 * resolveDenoKvTarget("deno-kv://:memory:", {});           // { path: ":memory:", kv: undefined }
 */
export function resolveDenoKvTarget(url: string, options: Record<string, unknown>): DenoKvTarget {
  const match = /^deno-kv:\/\//i.exec(url) ?? fail(`${JSON.stringify(url)} is not a deno-kv:// URL`);
  rejectQuery(fail, url);
  const rest = url.slice(match[0].length);
  if (rest.includes("#")) fail(`the path in ${JSON.stringify(url)} has a "#": spell it %23`);
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch (cause) {
    return fail(`the path in ${JSON.stringify(url)} has a malformed %-escape`, { cause });
  }
  const kv = options.kv;
  if (kv !== undefined) {
    if (path !== "") fail(`give either a path in the URL or an opened handle as option "kv", not both (use "deno-kv://" with "kv")`);
    if (!isKvHandle(kv)) fail(`option "kv" must be an opened Deno KV handle (await Deno.openKv(…) on Deno, await openKv(…) from "@deno/kv" elsewhere)`);
    return { path: undefined, kv: kv as object };
  }
  const deno = denoRuntime();
  if (deno !== undefined) {
    if (typeof deno.openKv !== "function") {
      fail(`Deno.openKv is not available: run deno with --unstable-kv (or add "unstable": ["kv"] to deno.json), or pass an opened handle as option "kv"`);
    }
  } else if (path === "") {
    fail(
      `"deno-kv://" opens Deno's default database, which exists only on Deno: give a path ("deno-kv:///abs/path/cache.db", "deno-kv://./cache.db", "deno-kv://:memory:") or pass an opened handle as option "kv"`,
    );
  }
  return { path: path === "" ? undefined : path, kv: undefined };
}
