/**
 * Header values that more than one middleware of `cashews/hono` writes: seconds and cache keys.
 * @module
 */

/** Seconds for headers: whole seconds, rounded up (a value about to expire still says 1). */
export const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

const encoder = new TextEncoder();

/**
 * `text` as a header value (cache keys in `X-From-Cache`): characters outside printable ASCII
 * (controls such as a newline, and every non-ASCII character) and leading/trailing spaces are
 * percent-encoded as UTF-8 (`日` → `%E6%97%A5`, `\n` → `%0A`); `%` itself is kept as it is.
 */
export function asHeaderValue(text: string): string {
  return text.replace(/[^\x20-\x7e]+|^ +| +$/g, (run) =>
    Array.from(encoder.encode(run), (byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}
