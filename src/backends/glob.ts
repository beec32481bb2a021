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

/** Token kinds of a compiled pattern. */
const LITERAL = 0;
const ANY = 1;
const STAR = 2;
const SET = 3;

interface Token {
  kind: typeof LITERAL | typeof ANY | typeof STAR | typeof SET;
  /** LITERAL: the byte. */
  code: number;
  /** SET: `^` given. */
  negate: boolean;
  /** SET: single members (bytes). */
  members: number[];
  /** SET: ranges as flat [low, high, low, high, …] of signed-char values, low <= high. */
  ranges: number[];
}

/** Redis gives up on a match nested deeper than this many `*` groups. */
const MAX_NESTING = 1000;

const SPECIAL = /[*?[\\]/;
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
  if (/^\**$/.test(pattern)) {
    if (pattern === "") return (key) => key === "";
    return () => true;
  }
  if (!SPECIAL.test(pattern)) return (key) => key === pattern;
  const fast = /^(\*?)([^*?[\\]+)(\**)$/.exec(pattern);
  if (fast) {
    // UTF-8 is self-synchronising: these string tests agree with the byte-wise ones.
    const text = fast[2]!;
    const lead = fast[1] === "*";
    const trail = fast[3] !== "";
    if (lead && trail) return (key) => key.includes(text);
    if (lead) return (key) => key.endsWith(text);
    if (trail) return (key) => key.startsWith(text);
  }
  const tokens = tokenize(toByteString(pattern));
  return (key) => {
    if (key === "") return false; // a pattern that is not all stars needs at least one byte
    const subject = NON_ASCII.test(key) ? toByteString(key) : key;
    return matchTokens(tokens, 0, subject, 0, { skipLonger: false }, 0);
  };
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
  const bytes = new TextEncoder().encode(text);
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}

/** A C `char` on x86-64: bytes 0x80–0xff are negative. */
function signed(code: number): number {
  return code >= 128 ? code - 256 : code;
}

/**
 * Splits a pattern (as a byte string) into tokens, advancing through it exactly as
 * `stringmatchlen` does. `p` is the position; `n - p` is Redis's `patternLen`.
 */
function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  const n = pattern.length;
  let p = 0;
  const token = (kind: Token["kind"], code = 0): Token => ({ kind, code, negate: false, members: [], ranges: [] });
  while (p < n) {
    const c = pattern.charCodeAt(p);
    if (c === 0x2a /* * */) {
      while (p + 1 < n && pattern.charCodeAt(p + 1) === 0x2a) p++;
      tokens.push(token(STAR));
    } else if (c === 0x3f /* ? */) {
      tokens.push(token(ANY));
    } else if (c === 0x5b /* [ */) {
      const set = token(SET);
      p++;
      if (p < n && pattern.charCodeAt(p) === 0x5e /* ^ */) {
        set.negate = true;
        p++;
      }
      for (;;) {
        const left = n - p;
        const ch = left > 0 ? pattern.charCodeAt(p) : 0;
        if (ch === 0x5c /* \ */ && left >= 2) {
          p++;
          set.members.push(pattern.charCodeAt(p));
        } else if (left > 0 && ch === 0x5d /* ] */) {
          break;
        } else if (left === 0) {
          p--; // unclosed: the rest of the pattern was the set
          break;
        } else if (left >= 3 && pattern.charCodeAt(p + 1) === 0x2d /* - */) {
          let low = signed(ch);
          let high = signed(pattern.charCodeAt(p + 2));
          if (low > high) [low, high] = [high, low];
          set.ranges.push(low, high);
          p += 2;
        } else {
          set.members.push(ch);
        }
        p++;
      }
      tokens.push(set);
    } else if (c === 0x5c /* \ */ && n - p >= 2) {
      p++;
      tokens.push(token(LITERAL, pattern.charCodeAt(p)));
    } else {
      tokens.push(token(LITERAL, c));
    }
    p++;
  }
  return tokens;
}

function setMatches(set: Token, code: number): boolean {
  let match = set.members.includes(code);
  if (!match) {
    const value = signed(code);
    const ranges = set.ranges;
    for (let i = 0; i < ranges.length; i += 2) {
      if (value >= ranges[i]! && value <= ranges[i + 1]!) {
        match = true;
        break;
      }
    }
  }
  return set.negate ? !match : match;
}

/** `stringmatchlen_impl` over tokens; `s < key.length` on entry. */
function matchTokens(
  tokens: readonly Token[],
  t: number,
  key: string,
  s: number,
  state: { skipLonger: boolean },
  nesting: number,
): boolean {
  if (nesting > MAX_NESTING) return false;
  const n = tokens.length;
  const len = key.length;
  while (t < n && s < len) {
    const token = tokens[t]!;
    switch (token.kind) {
      case STAR:
        if (t === n - 1) return true;
        while (s < len) {
          if (matchTokens(tokens, t + 1, key, s, state, nesting + 1)) return true;
          if (state.skipLonger) return false;
          s++;
        }
        // No match for the rest anywhere in the rest of the key: an earlier `*` taking more
        // cannot help either.
        state.skipLonger = true;
        return false;
      case ANY:
        s++;
        break;
      case SET:
        if (!setMatches(token, key.charCodeAt(s))) return false;
        s++;
        break;
      default:
        if (token.code !== key.charCodeAt(s)) return false;
        s++;
    }
    t++;
    if (s === len) {
      while (t < n && tokens[t]!.kind === STAR) t++;
      break;
    }
  }
  return t === n && s === len;
}
