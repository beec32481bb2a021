/**
 * URL checks shared by the scheme specs of the network backends (redis/spec.ts, upstash/spec.ts),
 * which run in the core without loading a backend.
 * @module
 */
import { CacheConfigError } from "../errors.js";

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
