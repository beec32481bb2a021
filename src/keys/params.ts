/**
 * Parameter names of a function, read from its source text (`Function.prototype.toString`).
 *
 * JavaScript has no reflection API for parameter names, so cashews reads them from the source the
 * runtime keeps for every non-native function. What this source says is what the runtime actually
 * executes: after a transpiler or bundler ran, the names can differ from the ones you wrote.
 * esbuild (and so tsx, vite, vitest and tsup) renames a parameter that shadows a module-level name,
 * e.g. `import { user } …; function getUser(user) {}` runs as `function getUser(user2) {}`, and
 * minifiers rename every parameter. Key templates are validated against the names found here, so
 * such a rename makes wrapping fail loudly instead of building a wrong key.
 * @module
 */

import { CacheConfigError } from "../errors.js";
import { KEY_FUNCTION } from "./render.js";

/** Parameters of a function, as far as they can be read from its source. */
export interface ParamInfo {
  /**
   * One entry per declared parameter, in order. `undefined` for a destructured parameter
   * (`{ a, b }` or `[x]`), which templates can only reach by position (`{0.a}`).
   */
  readonly names: readonly (string | undefined)[];
  /** Whether the last parameter is a rest parameter (`...args`); it binds the remaining arguments as an array. */
  readonly rest: boolean;
}

const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;
// Arrow function with a single parameter and no parentheses: `x => …`, `async x => …`.
const BARE_ARROW = /^(?:async(?:\s|\/\*[^]*?\*\/)+)?([\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*)\s*=>/u;
const IDENTIFIER = /[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*/uy;
// After one of these characters a `/` starts a regular expression literal, not a division.
const REGEX_PRECEDES = "(,=:[!&|?{};+-*%<>~^";

const cache = new WeakMap<Function, ParamInfo>();

/**
 * Reads the parameter names of `fn` from its source text.
 *
 * Handles function declarations and expressions, async and generator functions, arrow functions
 * (with or without parentheses), methods (including computed keys, getters/setters and methods
 * decorated with TC39 decorators), default values of any complexity (strings, template literals,
 * regular expressions, nested functions, objects), rest parameters and comments. Destructured
 * parameters have no name (`undefined`). Results are memoised per function.
 *
 * @param fn - the function whose parameters to read.
 * @returns the parameter names and whether the last one is a rest parameter.
 * @throws CacheConfigError when the source cannot be read (native or bound functions, classes).
 */
export function parameterNames(fn: Function): ParamInfo {
  let info = cache.get(fn);
  if (info === undefined) {
    info = parseParams(fn);
    cache.set(fn, info);
  }
  return info;
}

function unreadable(fn: Function, why: string): CacheConfigError {
  return new CacheConfigError(
    `Cannot read the parameter names of ${fn.name ? `"${fn.name}"` : "an anonymous function"}: ${why}; ` +
      `${KEY_FUNCTION} or use positions in the key template, such as "item:{0}" or "item:{0.id}".`,
  );
}

function parseParams(fn: Function): ParamInfo {
  // Callers pass functions (the decorator checks), and toString() of any function gives a string:
  // its source, or a `[native code]` stand-in when there is none.
  const src = Function.prototype.toString.call(fn);
  if (NATIVE.test(src)) {
    throw unreadable(
      fn,
      fn.name.startsWith("bound ") ? "it is a bound function (no source); wrap the original function instead" : "it is native code or a proxy (no source)",
    );
  }
  const start = skipTrivia(src, 0);
  const head = src.slice(start);
  if (/^class\b/.test(head)) throw unreadable(fn, "it is a class");
  const bare = BARE_ARROW.exec(head);
  if (bare !== null) return { names: [bare[1]], rest: false };
  const open = findParamListStart(src, start);
  if (open < 0) throw unreadable(fn, "no parameter list found");
  const segments: string[] = [];
  scan(src, open + 1, ")", segments);
  const names: (string | undefined)[] = [];
  let rest = false;
  for (const segment of segments) {
    let i = skipTrivia(segment, 0);
    if (i === segment.length) continue; // trailing comma, or no parameters
    if (segment.startsWith("...", i)) {
      rest = true;
      i = skipTrivia(segment, i + 3);
    }
    if ("{[".includes(segment[i]!)) {
      names.push(undefined);
      continue;
    }
    IDENTIFIER.lastIndex = i;
    const name = IDENTIFIER.exec(segment)?.[0];
    // A name, then nothing or a default value.
    if (name === undefined || (segment[skipTrivia(segment, i + name.length)] ?? "=") !== "=") {
      throw unreadable(fn, `the parameter "${segment.trim()}" could not be parsed`);
    }
    names.push(name);
  }
  return { names, rest };
}

/** Index of the `(` that opens the parameter list, skipping method keys (strings, computed keys). */
function findParamListStart(src: string, i: number): number {
  while (i < src.length) {
    i = skipTrivia(src, i);
    const c = src[i];
    if (c === "(") return i;
    if (c === '"' || c === "'" || c === "`") i = skipLiteral(src, i);
    else if (c === "[") i = scan(src, i + 1, "]") + 1;
    else if (c === "{" || c === "=") return -1;
    else i++;
  }
  return -1;
}

/**
 * Scans from `i` to the `close` character that ends the current group (respecting nested brackets,
 * strings, template literals, regular expressions and comments) and returns its index. When
 * `segments` is given, the text between top-level commas is pushed to it.
 */
function scan(src: string, i: number, close: string, segments?: string[]): number {
  let depth = 0;
  let segStart = i;
  let prev = "("; // last significant character, to tell a regex from a division
  while (i < src.length) {
    const c = src[i]!;
    const next = skipTrivia(src, i);
    if (next > i) {
      i = next;
      continue;
    }
    if (depth === 0 && c === close) {
      segments?.push(src.slice(segStart, i));
      return i;
    }
    if (c === '"' || c === "'" || c === "`" || (c === "/" && REGEX_PRECEDES.includes(prev))) i = skipLiteral(src, i);
    else {
      if ("([{".includes(c)) depth++;
      else if (")]}".includes(c) && depth > 0) depth--;
      else if (c === "," && depth === 0 && segments !== undefined) {
        segments.push(src.slice(segStart, i));
        segStart = i + 1;
      }
      i++;
    }
    prev = c; // after a literal or a `/`, a `/` is a division (none of them is in REGEX_PRECEDES)
  }
  return src.length;
}

/** Whitespace and comments; an unterminated comment runs to the end. */
const TRIVIA = /(?:[ \t\n\r\uFEFF]|\/\/[^\n]*\n?|\/\*(?:[^]*?\*\/|[^]*))*/y;

/** Index of the first character at or after `i` (at most `src.length`) that is not trivia. */
function skipTrivia(src: string, i: number): number {
  TRIVIA.lastIndex = i;
  TRIVIA.exec(src);
  return TRIVIA.lastIndex;
}

/**
 * Skips the string, template literal (with its `${…}` parts) or regular expression literal (with
 * its flags) starting at `i`. A regular expression also ends at a line break (it was a division).
 */
function skipLiteral(src: string, i: number): number {
  const quote = src[i];
  let inClass = false; // inside a regex character class, where `/` does not end the literal
  while (++i < src.length) {
    const c = src[i];
    if (c === "\\") i++;
    else if (c === quote && !inClass) {
      if (quote === "/") while (/[a-z]/i.test(src[i + 1] ?? "")) i++;
      return i + 1;
    } else if (quote === "`") {
      if (c === "$" && src[i + 1] === "{") i = scan(src, i + 2, "}");
    } else if (quote === "/") {
      if (c === "\n") return i;
      inClass = c === "[" || (inClass && c !== "]");
    }
  }
  return i;
}
