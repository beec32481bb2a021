/**
 * The tags a stored text carries: a header in front of the text, written by the backends that
 * store strings (Redis, Upstash, Deno KV, `defineBackend`) when a write has tags, read by the
 * codec (which strips it) and by `tagDelete` (which deletes a key only while it carries the tag).
 *
 * Format: `$t1:` + `\x01` + each tag (escaped) followed by `\x01` + `\x02` + the text, e.g.
 * `"$t1:\x01users\x01user:1\x01\x02{…}"`. Escaping (`\` → `\\`, `\x01` → `\1`, `\x02` → `\2`) keeps
 * both control characters out of a tag, so a plain substring search for `\x01<tag>\x01` inside
 * the header is exact, also in Lua on UTF-8 bytes. Texts without the header (untagged writes, and
 * every value written before tags were recorded per key) are read as they are.
 * @module
 */

/** What every tagged text starts with (the `$` namespace is the codec's: `$l1:` locks, `$s1:` signatures). */
export const TAGGED_PREFIX = "$t1:";
const SEP = "\u0001";
const END = "\u0002";

/**
 * A tag as it appears in a header (what the TAG_INCR script takes).
 * @example
 * escapeTag("a\\b"); // "a\\\\b"
 */
export const escapeTag = (tag: string): string => tag.replace(/[\\\u0001\u0002]/g, (c) => (c === "\\" ? "\\\\" : c === SEP ? "\\1" : "\\2"));
const unescapeTag = (tag: string): string => tag.replace(/\\([\\12])/g, (_, c: string) => (c === "\\" ? "\\" : c === "1" ? SEP : END));

/**
 * What `tagDelete` looks for in a header to tell that a text carries `tag` (also the Lua scripts' argument).
 * @example
 * tagNeedle("users"); // "\x01users\x01"
 */
export function tagNeedle(tag: string): string {
  return SEP + escapeTag(tag) + SEP;
}

/**
 * `text` carrying `tags` (deduplicated); `text` itself without tags.
 * @example
 * withTags("1", ["users"]); // "$t1:\x01users\x01\x021"
 */
export function withTags(text: string, tags: readonly string[] | undefined): string {
  if (tags === undefined || tags.length === 0) return text;
  let header = TAGGED_PREFIX + SEP;
  for (const tag of new Set(tags)) header += escapeTag(tag) + SEP;
  return header + END + text;
}

/** Where the text starts after a header (0 when `stored` has none). */
function bodyStart(stored: string): number {
  if (!stored.startsWith(TAGGED_PREFIX)) return 0;
  const end = stored.indexOf(END, TAGGED_PREFIX.length);
  return end < 0 ? 0 : end + 1;
}

/**
 * The text without its tag header (itself when it has none).
 * @example
 * untagged(withTags("1", ["users"])); // "1"
 */
export function untagged(stored: string): string {
  const start = bodyStart(stored);
  return start === 0 ? stored : stored.slice(start);
}

/**
 * The tags a stored text carries (`[]` without a header).
 * @example
 * tagsOf(withTags("1", ["a", "b"])); // ["a", "b"]
 */
export function tagsOf(stored: string): string[] {
  const start = bodyStart(stored);
  if (start === 0) return [];
  return stored.slice(TAGGED_PREFIX.length + 1, start - 2).split(SEP).map(unescapeTag);
}

/**
 * Whether a stored value (a string; anything else carries no tag) carries `tag`.
 * @example
 * carries(withTags("1", ["users"]), "users"); // true
 * carries("1", "users");                      // false
 */
export function carries(stored: unknown, tag: string): boolean {
  if (typeof stored !== "string") return false;
  const start = bodyStart(stored);
  return start !== 0 && stored.slice(TAGGED_PREFIX.length, start - 1).includes(tagNeedle(tag));
}

/**
 * The union of the tags `stored` carries and `tags`, in front of its text (what `incr` with tags keeps).
 * @example
 * addTags(withTags("5", ["a"]), ["b"]); // withTags("5", ["a", "b"])
 */
export function addTags(stored: string, tags: readonly string[] | undefined): string {
  if (tags === undefined || tags.length === 0) return stored;
  return withTags(untagged(stored), [...tagsOf(stored), ...tags]);
}
