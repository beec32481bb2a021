/**
 * The `upstash://` (https) and `upstash+http://` (plain http, for local servers) schemes: their
 * options, validated at `setup` without loading @upstash/redis, and a lazy loader of the backend
 * (see `lazyModule` in `config/load.ts` for where it is loaded from).
 *
 * This file must stay free of @upstash/redis and of `node:*` imports: the core imports it, and
 * the core runs everywhere (Workers included).
 * @module
 */
import { lazyModule } from "../../config/load.js";
import type { SchemeSpec } from "../../config/registry.js";
import { failer, parseBackendUrl, rejectClash, rejectQuery } from "../../config/url.js";
import type { BackendConfig } from "../types.js";
import type { CacheConfigError } from "../../errors.js";
import { localOption } from "../../config/local.js";

/**
 * The environment variable read for the token when none is given (Node, Bun, Deno).
 * @example
 * process.env[TOKEN_ENV] = "AX…"; // "UPSTASH_REDIS_REST_TOKEN"
 * cache.setup("upstash://eu1-example-12345.upstash.io"); // finds the token there
 */
export const TOKEN_ENV = "UPSTASH_REDIS_REST_TOKEN";

/**
 * The `UPSTASH_REDIS_REST_TOKEN` environment variable on Node, Bun and Deno (`process.env` or
 * `Deno.env`, both guarded: no static import, no permission prompt escapes), else `undefined`.
 * On Workers pass the binding as the `token` option instead.
 * @example
 * if (envToken() === undefined) console.warn("set UPSTASH_REDIS_REST_TOKEN or pass { token }");
 */
export function envToken(): string | undefined {
  const g = globalThis as {
    process?: { env?: Record<string, string | undefined> };
    Deno?: { env?: { get(name: string): string | undefined } };
  };
  for (const read of [() => g.process?.env?.[TOKEN_ENV], () => g.Deno?.env?.get(TOKEN_ENV)]) {
    try {
      const value = read();
      if (value) return value;
    } catch {
      // an env proxy that throws, or Deno without --allow-env: treat as unset
    }
  }
  return undefined;
}

/** The REST endpoint and token an `upstash://` setup resolves to (see {@link resolveUpstashEndpoint}). */
export interface UpstashEndpoint {
  /** `https://host[:port][/path]` or, for `upstash+http://`, `http://…`; `""` with a supplied client and no host. */
  baseUrl: string;
  /** The bearer token (`undefined` with a supplied client). */
  token: string | undefined;
}

const fail = failer("upstash");

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
  const match = /^upstash(\+http)?:\/\//i.exec(url) ?? fail(`${JSON.stringify(url)} is not an upstash:// or upstash+http:// URL`);
  const rest = url.slice(match[0].length);
  rejectQuery(fail, url);
  const client = options.client;
  if (client !== undefined) rejectClash(fail, options, ["token", "retries"]);
  let baseUrl = "";
  if (rest !== "" || client === undefined) {
    // Past this check the host is never empty: an http(s) URL without one does not parse.
    if (/^[/?#]|^$/.test(rest)) fail(`the URL needs a host, e.g. "upstash://eu1-example-12345.upstash.io" (or pass an @upstash/redis "client")`);
    const parsed = parseBackendUrl(fail, url, `${match[1] ? "http" : "https"}://${rest}`);
    if (parsed.username || parsed.password) fail(`put the token in the "token" option (or ?token=), not in the URL`);
    baseUrl = (parsed.origin + parsed.pathname).replace(/\/$/, "");
  }
  if (client !== undefined) return { baseUrl, token: undefined };
  const token = options.token ?? envToken();
  if (typeof token !== "string" || token === "") {
    fail(`no token for ${baseUrl}: pass setup(url, { token }) (on Workers: env.${TOKEN_ENV}) or ?token=…, or set the ${TOKEN_ENV} env variable`);
  }
  return { baseUrl, token: token as string };
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
 * @example
 * upstashSpec.schemes;              // ["upstash", "upstash+http"]
 * Object.keys(upstashSpec.options); // ["token", "namespace", "retries", "client"]
 */
export const upstashSpec: SchemeSpec = {
  schemes: ["upstash", "upstash+http"],
  options: {
    token: { kind: "string" },
    namespace: { kind: "string", default: "cashews" },
    retries: { kind: "int", min: 0 },
    client: { kind: "object" },
  },
  module: lazyModule("upstash", "@upstash/redis"),
  // A local tier in front (`local`): bounded by its ttl until a bus is given.
  local: localOption,
  validate(config: BackendConfig): void {
    resolveUpstashEndpoint(config.url, config.options);
  },
};
