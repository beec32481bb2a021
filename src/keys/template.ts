/**
 * Key templates (API.md "Keys"): parsed and validated once at wrap time, then built on every call
 * by a tight loop over literal strings and pre-built accessor closures (no regex work per call).
 *
 * Syntax: `{name}`, `{user.profile.id}`, `{0}`, `{0.id}`, transforms after colons (`{email:lower}`,
 * `{email:lower:hash}`), `{@:get(tenant)}` for the key context; `{{` and `}}` are literal braces.
 * @module
 */

import { CacheConfigError } from "../errors.js";
import { base64ToBytes } from "../base64.js";
import { HASH_ALGORITHMS, hashHex, type HashAlgorithm } from "./hash.js";
import type { ParamInfo } from "./params.js";
import { KEY_FUNCTION, renderValue } from "./render.js";

/** Builds a cache key from a call's arguments and the current key context. */
export type KeyBuilder = (args: readonly unknown[], context?: Readonly<Record<string, unknown>>) => string;

/** The function a template is compiled for: its name (for messages) and its parameters. */
export interface KeyTarget {
  /** Function name, used in error messages (may be empty). */
  readonly name: string;
  /** Parameters, as read by {@link parameterNames}. */
  readonly params: ParamInfo;
}

/** Options of {@link compileKey}. */
export interface CompileOptions {
  /** Prepended to every key as `<prefix>:` when non-empty. */
  readonly prefix?: string;
}

/** One transform in a placeholder: `lower`, `hash(sha1)`, `jwt(sub)`, … */
export interface TransformSpec {
  /** Transform name. */
  readonly name: string;
  /** Argument inside the parentheses, if any. */
  readonly arg?: string;
}

/** A placeholder of a template. */
export interface FieldSegment {
  readonly kind: "field";
  /** The field expression as written: `user.profile.id`, `0`, `@`. */
  readonly field: string;
  /** First segment of the field: a parameter name, a position (digits) or `@`. */
  readonly root: string;
  /** The remaining dot-separated path segments. */
  readonly path: readonly string[];
  /** Transforms, applied left to right. */
  readonly transforms: readonly TransformSpec[];
  /** The whole placeholder as written, braces included. */
  readonly source: string;
}

/** A parsed piece of a template: literal text or a placeholder. */
export type TemplateSegment = { readonly kind: "literal"; readonly text: string } | FieldSegment;

/** Names of the transforms templates accept. */
export const KNOWN_TRANSFORMS: readonly string[] = [
  "lower",
  "upper",
  "len",
  "hash",
  "hash(md5|sha1|sha256)",
  "jwt(claim)",
  "get(name)",
];

const TRANSFORM = /^([A-Za-z_]\w*)\s*(?:\((.*)\))?$/s;
const DIGITS = /^\d+$/;

/**
 * Parses a key template into literal and placeholder segments (syntax checks only; names are
 * checked by {@link compileKey}).
 * @param template - the key template.
 * @returns the segments in order; adjacent literal text is merged.
 * @throws CacheConfigError for unbalanced braces, an empty placeholder or a malformed transform.
 */
export function parseTemplate(template: string): TemplateSegment[] {
  const segments: TemplateSegment[] = [];
  let text = "";
  let at = 0;
  const flush = (): void => {
    if (text !== "") segments.push({ kind: "literal", text });
    text = "";
  };
  // Odd parts are `{{`, `}}`, a placeholder (a `{` whose next brace is a `}`), or a lone brace.
  template.split(/(\{\{|\}\}|\{[^{}]*\}|[{}])/).forEach((part, i) => {
    if (i % 2 === 0) text += part;
    else if (part === "{{" || part === "}}") text += part[0];
    else if (part === "}") throw malformed(template, `a lone "}" at position ${at}; write "}}" for a literal brace`);
    else if (part === "{") throw malformed(template, `the "{" at position ${at} is not closed; write "{{" for a literal brace`);
    else {
      flush();
      segments.push(parseField(template, part));
    }
    at += part.length;
  });
  flush();
  return segments;
}

function malformed(template: string, why: string): CacheConfigError {
  return new CacheConfigError(`Malformed key template "${template}": ${why}.`);
}

function parseField(template: string, source: string): FieldSegment {
  // Split at the colons outside parentheses.
  const parts = [""];
  let depth = 0;
  for (const c of source.slice(1, -1)) {
    if (c === ":" && depth === 0) parts.push("");
    else {
      parts[parts.length - 1] += c;
      if (c === "(") depth++;
      else if (c === ")" && depth > 0) depth--;
    }
  }
  const [field, ...rest] = parts as [string, ...string[]];
  if (field === "") throw malformed(template, `the placeholder ${source} names nothing`);
  const [root, ...path] = field.split(".") as [string, ...string[]];
  if (root === "" || path.includes("")) throw malformed(template, `the placeholder ${source} has an empty path segment`);
  const transforms = rest.map((text): TransformSpec => {
    const m = TRANSFORM.exec(text.trim());
    if (m === null) {
      throw malformed(template, `cannot parse the transform "${text}" in ${source}; known transforms: ${KNOWN_TRANSFORMS.join(", ")}`);
    }
    return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, arg: m[2].trim() };
  });
  return { kind: "field", field, root, path, transforms, source };
}

/**
 * The placeholders a template uses, as written (`"id"`, `"user.profile.id"`, `"0"`, `"@"`), in
 * order of first use, without duplicates.
 * @param template - the key template.
 * @returns the field expressions.
 */
export function templateFields(template: string): string[] {
  const fields = new Set<string>();
  for (const s of parseTemplate(template)) if (s.kind === "field") fields.add(s.field);
  return [...fields];
}

/**
 * A glob pattern (Redis `SCAN MATCH` syntax) matching every key the template can produce: each
 * placeholder becomes `*`, and `* ? [ ] \` in the literal text are escaped.
 * @param template - the key template.
 * @returns the pattern, e.g. `user:*:posts` for `user:{id}:posts`.
 */
export function templatePattern(template: string): string {
  let out = "";
  for (const s of parseTemplate(template)) {
    out += s.kind === "literal" ? s.text.replace(/[*?[\]\\]/g, "\\$&") : "*";
  }
  return out;
}

type Context = Readonly<Record<string, unknown>> | undefined;
/** Builds one placeholder's text; `at`: the argument it reads as is, when it is that simple. */
type Accessor = ((args: readonly unknown[], context: Context) => string) & { at?: number };
type Step = (value: unknown) => unknown;

/**
 * Compiles a key template for a function, validating every placeholder against its parameters.
 *
 * Arguments bind to parameter names by position (JavaScript has no keyword arguments); a rest
 * parameter binds the remaining arguments as an array; a missing argument is `undefined` and
 * renders as the empty string. Default parameter values are **not** applied: `f("x")` and
 * `f("x", 2)` for `f(a, b = 2)` make different keys. Positions (`{0}`) index the call's arguments.
 *
 * @param template - the key template, e.g. `"user:{id}"`.
 * @param fn - the function's name (for messages) and parameters.
 * @param opts - `prefix` to prepend as `<prefix>:`.
 * @returns a function that builds the key for a call.
 * @throws CacheConfigError for a malformed template, an unknown placeholder (naming the parameters
 *   found and suggesting positions or a key function) or an unknown transform.
 */
export function compileKey(template: string, fn: KeyTarget, opts?: CompileOptions): KeyBuilder {
  const literals: string[] = [opts?.prefix ? `${opts.prefix}:` : ""];
  const accessors: Accessor[] = [];
  for (const segment of parseTemplate(template)) {
    if (segment.kind === "literal") literals[literals.length - 1] += segment.text;
    else {
      accessors.push(compileField(template, segment, fn));
      literals.push("");
    }
  }
  return assemble(literals, accessors);
}

function assemble(literals: string[], accessors: Accessor[]): KeyBuilder {
  const [l0, l1] = literals as [string, string?];
  const n = accessors.length;
  const f0 = accessors[0]!;
  // One placeholder (the common case) without a loop.
  if (n === 1) return f0.at === undefined ? (args, ctx) => l0 + f0(args, ctx) + l1 : numberMemo(l0, l1!, f0.at, f0);
  return (args, ctx) => {
    let out = l0;
    for (let i = 0; i < n; i++) out += accessors[i]!(args, ctx) + literals[i + 1]!;
    return out;
  };
}

/** Most rendered keys a {@link numberMemo} keeps (a generation; then it starts over). */
const MEMO_SIZE = 4096;

/**
 * A one-placeholder key over a plain argument, memoised for numbers: a repeated id reuses the
 * same key string (whose hash the engine has already computed), which makes a hit's backend
 * lookup cheaper than on a freshly concatenated key. Bounded; given up on when it thrashes.
 */
function numberMemo(l0: string, l1: string, at: number, read: Accessor): KeyBuilder {
  let memo: Map<number, string> | undefined = new Map();
  let hits = 0;
  return (args, ctx) => {
    const v = args[at];
    if (typeof v !== "number" || memo === undefined) return l0 + read(args, ctx) + l1;
    let key = memo.get(v);
    if (key !== undefined) hits++;
    // A full generation reused less than once per entry (too many distinct ids): stop memoising.
    else if (memo.size >= MEMO_SIZE) memo = hits < MEMO_SIZE ? undefined : ((hits = 0), new Map());
    else memo.set(v, (key = l0 + String(v) + l1));
    return key ?? l0 + String(v) + l1;
  };
}

function describeParams({ names, rest }: ParamInfo): string {
  const labels = names.map((n, i) => (rest && i === names.length - 1 ? "..." : "") + (n ?? `#${i} (destructured, use {${i}})`));
  return labels.join(", ") || "none";
}

function compileField(template: string, seg: FieldSegment, fn: KeyTarget): Accessor {
  const { root, path, transforms, source, field: label } = seg;
  const { names, rest } = fn.params;
  const self = `Key template "${template}"`;
  const forFn = `${self} for ${fn.name ? `"${fn.name}"` : "an anonymous function"} uses the`;

  let read: ((args: readonly unknown[], ctx: Context) => unknown) | undefined;
  let index = names.indexOf(root);
  if (root === "@") {
    if (path.length > 0 || transforms[0]?.name !== "get") {
      throw new CacheConfigError(
        `${self}: the key context placeholder ${source} must read one entry with get, e.g. "{@:get(tenant)}" (see withKeyContext).`,
      );
    }
    read = (_args, ctx) => ctx;
  } else if (DIGITS.test(root)) {
    index = Number(root);
    const count = names.length;
    if (!rest && index >= count) {
      throw new CacheConfigError(
        `${forFn} position ${source}, but the function takes ${count} parameter${count === 1 ? "" : "s"} ` +
          `(${describeParams(fn.params)}): use a position below ${count} or ${KEY_FUNCTION}.`,
      );
    }
  } else {
    // esbuild (and so tsx, vite, vitest and tsup) renames a parameter that shadows a module-level
    // name by appending digits (`user` → `user2`). Such a parameter binds when it is the only
    // candidate; two or more are ambiguous.
    const candidates = names.filter((n) => n?.startsWith(root) && DIGITS.test(n.slice(root.length)));
    if (index < 0 && candidates.length === 1) index = names.indexOf(candidates[0]);
    if (index < 0) {
      const hint = candidates.length
        ? ` "${candidates[0]}" looks like "${root}" renamed by a transpiler or bundler (esbuild renames a parameter that shadows a module-level name).`
        : ` Names come from the function's source: a bundler or minifier may have renamed them.`;
      throw new CacheConfigError(
        `${forFn} placeholder ${source}, but the function has no parameter "${root}". Parameters found: ` +
          `${describeParams(fn.params)}.${hint} Refer to arguments by position ("{0}", "{0.id}") or ${KEY_FUNCTION}.`,
      );
    }
    const from = index;
    if (rest && from === names.length - 1) read = (args) => args.slice(from);
  }

  const steps: Step[] = [
    ...path.map((p): Step => (v) => (v == null ? undefined : v instanceof Map ? v.get(p) : (v as Record<string, unknown>)[p])),
    ...transforms.map((t) => compileTransform(t, self, source, label)),
  ];
  const i = index;
  // Fast path: a plain positional read.
  if (read === undefined && steps.length === 0) return Object.assign((args: readonly unknown[]) => toText(args[i], label), { at: i });
  const get = read ?? ((args) => args[i]);
  const n = steps.length;
  return (args, ctx) => {
    let v = get(args, ctx);
    for (let s = 0; s < n; s++) v = steps[s]!(v);
    return toText(v, label);
  };
}

/** renderValue with the two commonest types inlined (the hit path calls this for every placeholder). */
function toText(v: unknown, label: string): string {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : renderValue(v, label);
}

function compileTransform({ name, arg }: TransformSpec, self: string, source: string, label: string): Step {
  const text = (v: unknown): string => toText(v, label);
  const what = `${self}: the transform "${name}" in ${source}`;
  const noArg = (step: Step): Step => {
    if (arg !== undefined) throw new CacheConfigError(`${what} takes no argument.`);
    return step;
  };
  const needArg = (kind: string, example: string): string => {
    if (!arg) throw new CacheConfigError(`${what} needs ${kind}, e.g. "${name}(${example})".`);
    return arg;
  };
  switch (name) {
    case "lower":
      return noArg((v) => text(v).toLowerCase());
    case "upper":
      return noArg((v) => text(v).toUpperCase());
    case "len":
      return noArg(length);
    case "hash": {
      const alg = (arg ? arg.toLowerCase() : "md5") as HashAlgorithm;
      if (!HASH_ALGORITHMS.includes(alg)) {
        throw new CacheConfigError(
          `${self}: unknown hash algorithm "${arg}" in ${source}; use one of ${HASH_ALGORITHMS.join(", ")} (default md5).`,
        );
      }
      return (v) => hashHex(alg, text(v));
    }
    case "jwt": {
      const claim = needArg("a claim name", "sub");
      return (v) => jwtClaim(text(v), claim);
    }
    case "get": {
      const entry = needArg("an entry name", "tenant");
      return (v) => (v instanceof Map ? v.get(entry) : own(v, entry));
    }
  }
  throw new CacheConfigError(`${self}: unknown transform "${name}" in ${source}. Known transforms: ${KNOWN_TRANSFORMS.join(", ")}.`);
}

/** `v[name]` when `v` is an object with that own property, else `undefined`. */
function own(v: unknown, name: string): unknown {
  return typeof v === "object" && v !== null && Object.hasOwn(v, name) ? (v as Record<string, unknown>)[name] : undefined;
}

function length(v: unknown): number {
  return typeof v === "string" || Array.isArray(v)
    ? v.length
    : v instanceof Map || v instanceof Set
      ? v.size
      : ArrayBuffer.isView(v) && !(v instanceof DataView)
        ? (v as unknown as ArrayLike<unknown>).length
        : renderValue(v, "len").length;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A claim of an unverified JWT (compact JWS: `header.payload.signature`, an optional `Bearer `
 * prefix is ignored). A token that is not a JWT, or lacks the claim, gives `undefined` (rendered
 * as the empty string): the key does not verify the token, the wrapped function must.
 */
function jwtClaim(token: string, claim: string): unknown {
  const parts = (token.startsWith("Bearer ") ? token.slice(7).trim() : token).split(".");
  const body = parts[1]!;
  if (parts.length !== 3 || !/^[\w-]*$/.test(body)) return undefined;
  try {
    const payload: unknown = JSON.parse(
      utf8.decode(base64ToBytes(body.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((body.length + 3) % 4))),
    );
    return Array.isArray(payload) ? undefined : own(payload, claim);
  } catch {
    return undefined;
  }
}

/**
 * The default key of a function: `<prefix>:<fnName>:<param>:<value>:…` (API.md "Keys"), without
 * the prefix part when there is none, and without the name part when the function is anonymous but
 * a prefix is given. A destructured parameter appears as `<index>:<value>`; a rest parameter as
 * `<name>:<elements joined with ":">`. Default parameter values are not applied.
 *
 * @param fnName - the function's name (may be empty when `prefix` is given).
 * @param params - its parameters, as read by {@link parameterNames}.
 * @param prefix - optional key prefix.
 * @returns a function that builds the key for a call.
 * @throws CacheConfigError when both the name and the prefix are empty.
 */
export function defaultKey(fnName: string, params: ParamInfo, prefix?: string): KeyBuilder {
  const head = [prefix, fnName].filter(Boolean).join(":");
  if (head === "") {
    throw new CacheConfigError(
      "Cannot build a default cache key for an anonymous function: give the function a name (or assign the arrow to a const first) or pass `key` or `prefix`.",
    );
  }
  const { names, rest } = params;
  const literals: string[] = [head];
  const accessors: Accessor[] = names.map((name, i) => {
    const label = name ?? String(i);
    literals[i] += `:${label}:`;
    literals.push("");
    return rest && i === names.length - 1 ? (args) => renderValue(args.slice(i), label) : (args) => toText(args[i], label);
  });
  return assemble(literals, accessors);
}
