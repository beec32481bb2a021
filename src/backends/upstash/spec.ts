/**
 * The `upstash://` (https) and `upstash+http://` (plain http, for local servers) schemes: their
 * options, validated at `setup` without loading @upstash/redis, and a lazy loader of the backend.
 *
 * This file must stay free of @upstash/redis and of `node:*` imports: the core imports it, and
 * the core runs everywhere (Workers included).
 * @module
 */
import type { BackendModule, SchemeSpec } from "../../config.js";
import type { BackendConfig } from "../types.js";
import { CacheConfigError } from "../../errors.js";

/** The environment variable read for the token when none is given (Node, Bun, Deno). */
export const TOKEN_ENV = "UPSTASH_REDIS_REST_TOKEN";

/**
 * Where the @upstash/redis backend lives; see `../redis/spec.ts` for why the specifiers are kept
 * in variables and how source and built layouts differ.
 */
const PACKAGE_ENTRY = "cashews/upstash";
const BUILT_SIBLING = "./upstash.js";
const SOURCE_ENTRY = "../../upstash.ts";

function candidates(): string[] {
  const here = typeof import.meta.url === "string" ? import.meta.url : "";
  if (/\.[cm]?tsx?$/.test(here)) return [new URL(SOURCE_ENTRY, here).href];
  return here ? [PACKAGE_ENTRY, new URL(BUILT_SIBLING, here).href] : [PACKAGE_ENTRY];
}

/** Loads the @upstash/redis backend module, turning a missing dependency into an error that says what to do. */
async function loadUpstashModule(): Promise<BackendModule> {
  const failures: unknown[] = [];
  for (const specifier of candidates()) {
    let entry: { upstashModule?: BackendModule };
    try {
      entry = (await import(/* @vite-ignore */ specifier)) as { upstashModule?: BackendModule };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/['"]@upstash\/redis['"]/.test(message)) {
        throw new Error(
          'the upstash:// backend needs the optional peer dependency "@upstash/redis": install it with `npm install @upstash/redis`',
          { cause: error },
        );
      }
      failures.push(error);
      continue;
    }
    if (!entry.upstashModule || typeof entry.upstashModule.create !== "function") {
      throw new Error(`"${specifier}" does not export the upstash backend module`);
    }
    return entry.upstashModule;
  }
  const first = failures[0];
  const reason = first instanceof Error ? first.message : String(first);
  throw new Error(
    `could not import "${PACKAGE_ENTRY}" (${reason}); when bundling, add \`import "cashews/upstash"\` to register the backend eagerly`,
    { cause: first },
  );
}

/**
 * The `UPSTASH_REDIS_REST_TOKEN` environment variable on Node, Bun and Deno (`process.env` or
 * `Deno.env`, both guarded: no static import, no permission prompt escapes), else `undefined`.
 * On Workers pass the binding as the `token` option instead.
 */
export function envToken(): string | undefined {
  const g = globalThis as {
    process?: { env?: Record<string, string | undefined> };
    Deno?: { env?: { get(name: string): string | undefined } };
  };
  try {
    const value = g.process?.env?.[TOKEN_ENV];
    if (value) return value;
  } catch {
    // an env proxy that throws (no permission): treat as unset
  }
  try {
    const value = g.Deno?.env?.get(TOKEN_ENV);
    if (value) return value;
  } catch {
    // Deno without --allow-env
  }
  return undefined;
}

/** The REST endpoint and token an `upstash://` setup resolves to. */
export interface UpstashEndpoint {
  /** `https://host[:port][/path]` or, for `upstash+http://`, `http://…`; `""` with a supplied client and no host. */
  baseUrl: string;
  /** The bearer token (`undefined` with a supplied client). */
  token: string | undefined;
}

/**
 * Resolves and checks the endpoint of an `upstash://` / `upstash+http://` setup: the URL, and the
 * token from the `token` option (which `?token=` also sets) or the environment. A supplied
 * `client` brings its own URL and token.
 * @param url The setup URL without its query string.
 * @param options The converted scheme options (`token`, `client`, `retries`, …).
 * @returns The base URL and token.
 * @throws {CacheConfigError} A bad URL, a missing token (saying where to put one), or options that
 * clash with a supplied client.
 * @example
 * resolveUpstashEndpoint("upstash://eu1-cat-123.upstash.io", { token: "AX…" });
 * // { baseUrl: "https://eu1-cat-123.upstash.io", token: "AX…" }
 */
export function resolveUpstashEndpoint(url: string, options: Record<string, unknown>): UpstashEndpoint {
  const match = /^(upstash(?:\+http)?):\/\//i.exec(url);
  if (!match) throw new CacheConfigError(`upstash: ${JSON.stringify(url)} is not an upstash:// or upstash+http:// URL`);
  const scheme = match[1]!.toLowerCase();
  const rest = url.slice(match[0].length);
  if (url.includes("?")) {
    throw new CacheConfigError(`upstash: pass options as an object, not in the URL's query (${JSON.stringify(url)})`);
  }
  const client = options.client;
  if (client !== undefined) {
    const clash = ["token", "retries"].filter((name) => options[name] !== undefined);
    if (clash.length > 0) {
      throw new CacheConfigError(`upstash: with option "client", configure ${clash.join(", ")} on the client itself`);
    }
  }
  let baseUrl = "";
  if (rest !== "" || client === undefined) {
    if (/^[/?#]|^$/.test(rest)) {
      throw new CacheConfigError(
        `upstash: the URL needs a host, e.g. "upstash://eu1-example-12345.upstash.io" (or pass an @upstash/redis "client")`,
      );
    }
    const protocol = scheme === "upstash+http" ? "http" : "https";
    let parsed: URL;
    try {
      parsed = new URL(`${protocol}://${rest}`);
    } catch (error) {
      throw new CacheConfigError(`upstash: invalid URL ${JSON.stringify(url)}`, { cause: error });
    }
    if (parsed.hostname === "") {
      throw new CacheConfigError(`upstash: the URL needs a host, e.g. "upstash://eu1-example-12345.upstash.io"`);
    }
    if (parsed.username || parsed.password) {
      throw new CacheConfigError(`upstash: put the token in the "token" option (or ?token=), not in the URL`);
    }
    if (parsed.hash) throw new CacheConfigError(`upstash: invalid URL ${JSON.stringify(url)} (it has a fragment)`);
    baseUrl = `${parsed.protocol}//${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname.replace(/\/$/, "")}`;
  }
  if (client !== undefined) return { baseUrl, token: undefined };
  const token = options.token ?? envToken();
  if (typeof token !== "string" || token === "") {
    throw new CacheConfigError(
      `upstash: no token for ${baseUrl}: pass it as setup(url, { token }), add ?token=… to the URL, ` +
        `or set the ${TOKEN_ENV} environment variable (on Workers: { token: env.${TOKEN_ENV} })`,
    );
  }
  return { baseUrl, token };
}

/**
 * Options of the Upstash schemes (plus the common ones: `prefix`, `enable`, `secret`, `safe`,
 * `timeout` (default 500 ms per HTTP request), `serializer`):
 *
 * - `token`: the REST token; else `?token=`; else the `UPSTASH_REDIS_REST_TOKEN` env variable.
 * - `namespace` (default `"cashews"`): keys are stored as `<namespace>:<key>`; `""` stores keys
 *   verbatim, and then `clear()` flushes the database.
 * - `retries` (default 1): how many times a request that failed at the network level (refused,
 *   reset) is sent again, 50 ms apart, all within `timeout`.
 * - `client`: an existing @upstash/redis `Redis` instance, used for its URL, token and HTTP
 *   settings; values round-trip exactly whatever its `automaticDeserialization`.
 *
 * `validate` checks the URL and finds the token without loading anything, so that a missing token
 * is a {@link CacheConfigError} at `setup`.
 */
export const upstashSpec: SchemeSpec = {
  schemes: ["upstash", "upstash+http"],
  options: {
    token: { kind: "string" },
    namespace: { kind: "string", default: "cashews" },
    retries: { kind: "int", min: 0 },
    client: { kind: "object" },
  },
  module: loadUpstashModule,
  validate(config: BackendConfig): void {
    resolveUpstashEndpoint(config.url, config.options);
  },
};
