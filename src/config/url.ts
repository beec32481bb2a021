/**
 * URL checks shared by the scheme specs of the network backends (redis/spec.ts, upstash/spec.ts),
 * which run in the core without loading a backend. Each check reports through the backend's
 * {@link Fail}, so that every message starts with the backend's name.
 * @module
 */
import { CacheConfigError } from "../errors.js";

/** Throws a {@link CacheConfigError} `<backend>: <why>`. */
export type Fail = (why: string, options?: { cause?: unknown }) => never;

/** The {@link Fail} of a backend, e.g. `failer("redis")`. */
export const failer =
  (label: string): Fail =>
  (why, options) => {
    throw new CacheConfigError(`${label}: ${why}`, options);
  };

/** Rejects a backend URL with a query: options go in an object. */
export function rejectQuery(fail: Fail, url: string): void {
  if (url.includes("?")) fail(`pass options as an object, not in the URL's query (${JSON.stringify(url)})`);
}

/** `new URL(text)` for a backend URL `url`, which must have no query and no fragment. */
export function parseBackendUrl(fail: Fail, url: string, text = url): URL {
  rejectQuery(fail, url);
  const invalid = `invalid URL ${JSON.stringify(url)}`;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch (cause) {
    return fail(invalid, { cause });
  }
  if (parsed.hash) fail(`${invalid} (it has a fragment)`);
  return parsed;
}

/** Rejects the options among `names` that a supplied `client` brings itself, and `more` such settings. */
export function rejectClash(fail: Fail, options: Record<string, unknown>, names: string[], more: string[] = []): void {
  const clash = [...names.filter((name) => options[name] !== undefined), ...more];
  if (clash.length > 0) fail(`with option "client", configure ${clash.join(", ")} on the client itself`);
}
