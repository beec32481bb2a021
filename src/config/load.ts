/**
 * Loading of backend modules by scheme: a scheme's module is loaded at the first `setup` that
 * uses it, so that the core never pulls in a client library it does not need.
 * @module
 */
import { CacheConfigError, messageOf } from "../errors.js";
import type { BackendModule, SchemeSpec } from "./registry.js";

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

/**
 * A lazy loader of the backend entry `cashews/<name>`, whose module export is `<name>Module`.
 * Specifiers are built at run time so that neither bundlers (esbuild, Vite's `new URL(…,
 * import.meta.url)` asset handling) nor `tsc` follow them: bundling `cashews` never pulls the
 * client library in.
 *
 * - Built (`dist/`): the package entry `cashews/<name>`, resolved by Node, Bun and Deno through the
 *   package's own `exports` (package self-reference), so it shares the core's chunk (one scheme
 *   registry, one set of error classes). If that fails, `./<name>.js` next to this chunk.
 * - From source (this file ends in `.ts`: vitest, tsx, Deno or Bun on `src/`): `src/<name>.ts`, one
 *   folder up from this file (`src/config/`), so source never mixes with a stale or missing `dist/`.
 *
 * A missing peer dependency `dependency` becomes an error that says how to install it.
 */
export function lazyModule(name: string, dependency: string): () => Promise<BackendModule> {
  const entry = `cashews/${name}`;
  return async () => {
    const here = typeof import.meta.url === "string" ? import.meta.url : "";
    const candidates = /\.[cm]?tsx?$/.test(here)
      ? [new URL(`../${name}.ts`, here).href]
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

/**
 * Imports an optional peer dependency of a backend (e.g. `@deno/kv` for `deno-kv://` on Node and
 * Bun) at first use. The specifier is passed through a variable so that bundlers and `tsc` do not
 * follow it: a bundle that never opens such a backend never pulls the package in.
 * @param dependency The package name, e.g. `"@deno/kv"`.
 * @param backend The scheme, for the error message, e.g. `"deno-kv"`.
 * @returns The package's module namespace.
 * @throws {CacheConfigError} The package is not installed (saying how to install it) or fails to load.
 * @example
 * const { openKv } = (await importPeer("@deno/kv", "deno-kv")) as { openKv(path?: string): Promise<unknown> };
 */
export async function importPeer(dependency: string, backend: string): Promise<Record<string, unknown>> {
  const specifier = [dependency][0]!;
  try {
    return (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  } catch (error) {
    const missing = new RegExp(`['"]${dependency.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}['"]`).test(messageOf(error));
    throw new CacheConfigError(
      missing
        ? `the ${backend}:// backend needs the peer dependency "${dependency}" on this runtime: npm install ${dependency}`
        : `the ${backend}:// backend could not load "${dependency}": ${messageOf(error)}`,
      { cause: error },
    );
  }
}
