/**
 * Redis glob patterns (`KEYS`, `SCAN MATCH`) for backends that match keys themselves.
 *
 * {@link compileGlob} follows Redis's `stringmatchlen` (util.c) exactly, so a pattern selects the
 * same keys on `mem://` as on Redis:
 *
 * - `*` any run of bytes, `?` one byte;
 * - `[abc]`, `[^abc]` (only `^` negates; `[!a]` is the set `!`, `a`), ranges `[a-z]`, reversed
 *   ranges `[z-a]` (same as `[a-z]`), `\x` escapes inside a set too; a `-` right before the closing
 *   `]` makes a range up to `]` (`[a-]` is `]` to `a`), as in Redis;
 * - an unclosed `[` takes the rest of the pattern as the set;
 * - `\x` matches `x` literally; a trailing lone `\` matches a backslash;
 * - Redis stops matching after 1000 nested `*` groups (abuse protection): such a match fails here too.
 *
 * Redis keys are bytes: `?` and sets match one byte of the key's UTF-8 encoding, so `?` does not
 * match `é` (two bytes) while `??` does. ASCII keys and patterns are matched on their characters
 * directly; anything else is matched on its UTF-8 bytes. Range bounds compare as signed `char`
 * (as Redis built for x86-64 does), which only matters for ranges with non-ASCII bounds.
 *
 * One deliberate difference from the bare C function: the empty key matches a pattern made only
 * of `*`. That is what Redis does for `KEYS *`/`SCAN` without `MATCH`, and for a namespaced key
 * (`cashews:` against `cashews:**`), which is how the network backends store keys.
 * @module
 */

/** A compiled pattern: tests one key. */
export type GlobMatcher = (key: string) => boolean;

/**
 * A compiled pattern token: `null` for `*`; otherwise a byte class `[negate, low, high, low,
 * high, …]` with signed-char bounds: a literal byte is the range `[b, b]`, `?` the negated empty
 * class, a set its members and ranges.
 */
type Token = [negate: boolean, ...bounds: number[]] | null;

/** Redis gives up on a match nested deeper than this many `*` groups. */
const MAX_NESTING = 1000;

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Compiles a Redis glob pattern into a key test with the semantics of Redis's `stringmatchlen`.
 * Patterns without special characters compile to an equality test, `prefix*` to `startsWith`,
 * `*suffix` to `endsWith`, `*infix*` to `includes`.
 * @param pattern A Redis glob pattern, e.g. `"user:*"`, `"item:[0-9]?"`, `"a\\*b"`.
 * @returns A function telling whether a key matches.
 * @example
 * const match = compileGlob("user:[^0-9]*");
 * match("user:ann"); // true
 * match("user:42");  // false
 */
export function compileGlob(pattern: string): GlobMatcher {
  if (/^\**$/.test(pattern)) return pattern === "" ? (key) => key === "" : () => true;
  const fast = /^(\*?)([^*?[\\]+)(\**)$/.exec(pattern);
  if (fast) {
    // UTF-8 is self-synchronising: these string tests agree with the byte-wise ones.
    const [, lead, text, trail] = fast as unknown as [string, string, string, string];
    return lead
      ? trail
        ? (key) => key.includes(text)
        : (key) => key.endsWith(text)
      : trail
        ? (key) => key.startsWith(text)
        : (key) => key === pattern;
  }
  const tokens = tokenize(toByteString(pattern));
  // A pattern that is not all stars needs at least one byte.
  return (key) => key !== "" && matchTokens(tokens, 0, toByteString(key), 0, { skipLonger: false }, 0);
}

/**
 * Escapes the glob specials `* ? [ ] \` so that `text` matches only itself, e.g. to put a
 * namespace or a user-supplied fragment in front of a pattern.
 * @param text Literal text.
 * @returns A pattern matching exactly `text`.
 * @example
 * escapeGlob("a*b") + ":*"; // "a\\*b:*"
 */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** Encodes to UTF-8 and returns the bytes as a string of char codes 0–255 (identity for ASCII). */
function toByteString(text: string): string {
  if (!NON_ASCII.test(text)) return text;
  let out = "";
  for (const byte of new TextEncoder().encode(text)) out += String.fromCharCode(byte);
  return out;
}

/** A C `char` on x86-64: bytes 0x80–0xff are negative. */
function signed(code: number): number {
  return code >= 128 ? code - 256 : code;
}

/**
 * Splits a pattern (as a byte string) into tokens, advancing through it exactly as
 * `stringmatchlen` does. `p` is the position; `n - p` is Redis's `patternLen`. Bytes are read as
 * signed chars: the special characters are ASCII, which signing leaves as they are.
 */
function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  const n = pattern.length;
  const at = (i: number): number => signed(pattern.charCodeAt(i));
  for (let p = 0; p < n; p++) {
    const c = at(p);
    if (c === 0x2a /* * */) {
      while (p + 1 < n && at(p + 1) === 0x2a) p++;
      tokens.push(null);
    } else if (c === 0x3f /* ? */) {
      tokens.push([true]);
    } else if (c === 0x5b /* [ */) {
      const set: [boolean, ...number[]] = [false];
      p++;
      if (p < n && at(p) === 0x5e /* ^ */) {
        set[0] = true;
        p++;
      }
      for (; ; p++) {
        const left = n - p;
        const ch = left > 0 ? at(p) : 0;
        if (ch === 0x5c /* \ */ && left >= 2) {
          p++;
          set.push(at(p), at(p));
        } else if (left > 0 && ch === 0x5d /* ] */) {
          break;
        } else if (left === 0) {
          p--; // unclosed: the rest of the pattern was the set
          break;
        } else if (left >= 3 && at(p + 1) === 0x2d /* - */) {
          const b = at(p + 2);
          set.push(Math.min(ch, b), Math.max(ch, b));
          p += 2;
        } else {
          set.push(ch, ch);
        }
      }
      tokens.push(set);
    } else {
      if (c === 0x5c /* \ */ && n - p >= 2) p++;
      tokens.push([false, at(p), at(p)]);
    }
  }
  return tokens;
}

/** Whether the byte `code` is in the class `[negate, low, high, …]`. */
function classMatches(token: [negate: boolean, ...bounds: number[]], code: number): boolean {
  const value = signed(code);
  for (let i = 1; i < token.length; i += 2) {
    if (value >= (token[i] as number) && value <= (token[i + 1] as number)) return !token[0];
  }
  return token[0];
}

/** `stringmatchlen_impl` over tokens; `s < key.length` on entry. */
function matchTokens(tokens: readonly Token[], t: number, key: string, s: number, state: { skipLonger: boolean }, nesting: number): boolean {
  if (nesting > MAX_NESTING) return false;
  const n = tokens.length;
  const len = key.length;
  while (t < n && s < len) {
    const token = tokens[t]!;
    if (token === null) {
      if (t === n - 1) return true;
      for (; s < len; s++) {
        if (matchTokens(tokens, t + 1, key, s, state, nesting + 1)) return true;
        if (state.skipLonger) return false;
      }
      // No match for the rest anywhere in the rest of the key: an earlier `*` taking more
      // cannot help either.
      state.skipLonger = true;
      return false;
    }
    if (!classMatches(token, key.charCodeAt(s))) return false;
    s++;
    t++;
    if (s === len) {
      while (t < n && tokens[t] === null) t++;
      break;
    }
  }
  return t === n && s === len;
}

/**
 * The literal text every key matching a Redis glob pattern starts with: the pattern up to its
 * first `*`, `?` or `[`, with `\x` escapes resolved (a trailing lone `\` is a literal backslash).
 * @example
 * literalPrefix("user:*");    // "user:"
 * literalPrefix("a\\*b?");    // "a*b"
 * literalPrefix("[ab]*");     // ""
 */
export function literalPrefix(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" || c === "?" || c === "[") break;
    if (c === "\\" && i + 1 < pattern.length) {
      i++;
      out += pattern[i];
    } else out += c;
  }
  return out;
}
