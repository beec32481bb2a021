/**
 * Key templates (API.md "Keys"): parsed and validated once at wrap time, then built on every call
 * by a tight loop over literal strings and pre-built accessor closures (no regex work per call).
 *
 * Syntax: `{name}`, `{user.profile.id}`, `{0}`, `{0.id}`, transforms after colons (`{email:lower}`,
 * `{email:lower:hash}`), `{@:get(tenant)}` for the key context; `{{` and `}}` are literal braces.
 * @module
 */

import { CacheConfigError } from "../errors.js";
import { HASH_ALGORITHMS, hashHex, type HashAlgorithm } from "./hash.js";
import type { ParamInfo } from "./params.js";
import { renderValue } from "./render.js";

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

/** A parsed piece of a template: literal text or a placeholder. */
export type TemplateSegment =
  | { readonly kind: "literal"; readonly text: string }
  | {
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
    };

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

const POSITION = /^\d+$/;
const TRANSFORM = /^([A-Za-z_][\w]*)\s*(?:\((.*)\))?$/s;

/**
 * Parses a key template into literal and placeholder segments (syntax checks only; names are
 * checked by {@link compileKey}).
 * @param template - the key template.
 * @returns the segments in order; adjacent literal text is merged.
 * @throws CacheConfigError for unbalanced braces, an empty placeholder or a malformed transform.
 */
export function parseTemplate(template: string): TemplateSegment[] {
  const segments: TemplateSegment[] = [];
  let literal = "";
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c === "{" && template[i + 1] === "{") {
      literal += "{";
      i += 2;
    } else if (c === "}" && template[i + 1] === "}") {
      literal += "}";
      i += 2;
    } else if (c === "}") {
      throw malformed(template, `a lone "}" at position ${i}; write "}}" for a literal brace`);
    } else if (c === "{") {
      const end = template.indexOf("}", i + 1);
      const nested = template.indexOf("{", i + 1);
      if (end < 0 || (nested >= 0 && nested < end)) {
        throw malformed(template, `the "{" at position ${i} is not closed; write "{{" for a literal brace`);
      }
      if (literal !== "") segments.push({ kind: "literal", text: literal });
      literal = "";
      segments.push(parseField(template, template.slice(i, end + 1)));
      i = end + 1;
    } else {
      literal += c;
      i++;
    }
  }
  if (literal !== "") segments.push({ kind: "literal", text: literal });
  return segments;
}

function malformed(template: string, why: string): CacheConfigError {
  return new CacheConfigError(`Malformed key template "${template}": ${why}.`);
}

function parseField(template: string, source: string): TemplateSegment {
  const body = source.slice(1, -1);
  const parts = splitOutsideParens(body);
  const field = parts[0]!;
  if (field === "") throw malformed(template, `the placeholder ${source} names nothing`);
  const [root, ...path] = field.split(".");
  if (root === "" || path.some((p) => p === "")) {
    throw malformed(template, `the placeholder ${source} has an empty path segment`);
  }
  const transforms = parts.slice(1).map((text): TransformSpec => {
    const m = TRANSFORM.exec(text.trim());
    if (m === null) {
      throw malformed(template, `cannot parse the transform "${text}" in ${source}; known transforms: ${KNOWN_TRANSFORMS.join(", ")}`);
    }
    return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, arg: m[2].trim() };
  });
  return { kind: "field", field, root: root!, path, transforms, source };
}

function splitOutsideParens(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (c === ":" && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/**
 * The placeholders a template uses, as written (`"id"`, `"user.profile.id"`, `"0"`, `"@"`), in
 * order of first use, without duplicates.
 * @param template - the key template.
 * @returns the field expressions.
 */
export function templateFields(template: string): string[] {
  const fields: string[] = [];
  for (const s of parseTemplate(template)) {
    if (s.kind === "field" && !fields.includes(s.field)) fields.push(s.field);
  }
  return fields;
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

type Accessor = (args: readonly unknown[], context: Readonly<Record<string, unknown>> | undefined) => string;
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
    if (segment.kind === "literal") {
      literals[literals.length - 1] += segment.text;
    } else {
      accessors.push(compileField(template, segment, fn));
      literals.push("");
    }
  }
  return assemble(literals, accessors);
}

function assemble(literals: string[], accessors: Accessor[]): KeyBuilder {
  const l0 = literals[0]!;
  switch (accessors.length) {
    case 0:
      return () => l0;
    case 1: {
      const [f0] = accessors as [Accessor];
      const l1 = literals[1]!;
      return (args, ctx) => l0 + f0(args, ctx) + l1;
    }
    case 2: {
      const [f0, f1] = accessors as [Accessor, Accessor];
      const l1 = literals[1]!;
      const l2 = literals[2]!;
      return (args, ctx) => l0 + f0(args, ctx) + l1 + f1(args, ctx) + l2;
    }
    case 3: {
      const [f0, f1, f2] = accessors as [Accessor, Accessor, Accessor];
      const l1 = literals[1]!;
      const l2 = literals[2]!;
      const l3 = literals[3]!;
      return (args, ctx) => l0 + f0(args, ctx) + l1 + f1(args, ctx) + l2 + f2(args, ctx) + l3;
    }
    default: {
      const n = accessors.length;
      return (args, ctx) => {
        let out = l0;
        for (let i = 0; i < n; i++) out += accessors[i]!(args, ctx) + literals[i + 1]!;
        return out;
      };
    }
  }
}

function describeParams(params: ParamInfo): string {
  if (params.names.length === 0) return "none";
  return params.names
    .map((n, i) => {
      const label = n ?? `#${i} (destructured, use {${i}})`;
      return params.rest && i === params.names.length - 1 ? `...${label}` : label;
    })
    .join(", ");
}

function fnLabel(fn: KeyTarget): string {
  return fn.name ? `"${fn.name}"` : "an anonymous function";
}

/**
 * esbuild (and so tsx, vite, vitest and tsup) renames a parameter that shadows a module-level name
 * by appending digits (`user` → `user2`). When the template's name is absent and exactly one
 * parameter is that name plus digits, it is the same parameter: bind to it. Two or more candidates
 * are ambiguous and fail loudly.
 */
function renamedIndex(root: string, names: readonly (string | undefined)[]): number {
  let found = -1;
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (n !== undefined && n.length > root.length && n.startsWith(root) && /^\d+$/.test(n.slice(root.length))) {
      if (found >= 0) return -1;
      found = i;
    }
  }
  return found;
}

function unknownPlaceholder(template: string, seg: { root: string; source: string }, fn: KeyTarget): CacheConfigError {
  const found = fn.params.names.filter((n): n is string => n !== undefined);
  const renamed = found.filter((n) => n.length > seg.root.length && n.startsWith(seg.root) && /^\d+$/.test(n.slice(seg.root.length)));
  const hint =
    renamed.length > 0
      ? ` "${renamed[0]}" looks like "${seg.root}" renamed by a transpiler or bundler: esbuild (and so tsx, vite, ` +
        `vitest and tsup) renames a parameter that shadows a module-level name, e.g. an import of the same name.`
      : ` Parameter names are read from the function's source as it runs; a bundler or minifier may have renamed them.`;
  return new CacheConfigError(
    `Key template "${template}" for ${fnLabel(fn)} uses the placeholder ${seg.source}, but the function has no ` +
      `parameter "${seg.root}". Parameters found: ${describeParams(fn.params)}.${hint} ` +
      `Refer to arguments by position ("{0}", "{0.id}") or pass a key function (key: (...args) => string).`,
  );
}

function compileField(
  template: string,
  seg: Extract<TemplateSegment, { kind: "field" }>,
  fn: KeyTarget,
): Accessor {
  const { root, path, transforms, source } = seg;
  const label = seg.field;
  const { names, rest } = fn.params;

  let read: ((args: readonly unknown[], ctx: Readonly<Record<string, unknown>> | undefined) => unknown) | undefined;
  let index = -1;
  if (root === "@") {
    if (path.length > 0 || transforms[0]?.name !== "get") {
      throw new CacheConfigError(
        `Key template "${template}": the key context placeholder ${source} must read one entry with get, ` +
          `e.g. "{@:get(tenant)}" (set it with withKeyContext({ tenant }, fn)).`,
      );
    }
    read = (_args, ctx) => ctx;
  } else if (POSITION.test(root)) {
    index = Number(root);
    if (!rest && index >= names.length) {
      throw new CacheConfigError(
        `Key template "${template}" for ${fnLabel(fn)} uses the position ${source}, but the function takes ` +
          `${names.length} parameter${names.length === 1 ? "" : "s"} (${describeParams(fn.params)}); positions count from 0. ` +
          `Use a position below ${names.length} or pass a key function (key: (...args) => string).`,
      );
    }
  } else {
    index = names.indexOf(root);
    if (index < 0) index = renamedIndex(root, names);
    if (index < 0) throw unknownPlaceholder(template, seg, fn);
    if (rest && index === names.length - 1) {
      const from = index;
      read = (args) => args.slice(from);
    }
  }

  const steps: Step[] = [];
  for (const p of path) steps.push((v) => step(v, p));
  for (const t of transforms) steps.push(compileTransform(template, source, label, t));

  // Fast paths: a plain positional read, then any read followed by steps.
  if (read === undefined && steps.length === 0) {
    const i = index;
    return (args) => {
      const v = args[i];
      return toText(v, label);
    };
  }
  if (read === undefined) {
    const i = index;
    read = (args) => args[i];
  }
  const get = read;
  if (steps.length === 1) {
    const s0 = steps[0]!;
    return (args, ctx) => {
      const v = s0(get(args, ctx));
      return toText(v, label);
    };
  }
  const n = steps.length;
  return (args, ctx) => {
    let v = get(args, ctx);
    for (let i = 0; i < n; i++) v = steps[i]!(v);
    return toText(v, label);
  };
}

/** renderValue with the two commonest types inlined (the hit path calls this for every placeholder). */
function toText(v: unknown, label: string): string {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : renderValue(v, label);
}

/** One path step: property access, `Map.get` on a Map; `undefined` through `null`/`undefined`. */
function step(value: unknown, key: string): unknown {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Map) return value.get(key);
  return (value as Record<string, unknown>)[key];
}

function compileTransform(template: string, source: string, label: string, t: TransformSpec): Step {
  const text = (v: unknown): string => toText(v, label);
  const noArg = (): void => {
    if (t.arg !== undefined) {
      throw new CacheConfigError(`Key template "${template}": the transform "${t.name}" in ${source} takes no argument.`);
    }
  };
  const needArg = (what: string): string => {
    if (t.arg === undefined || t.arg === "") {
      throw new CacheConfigError(
        `Key template "${template}": the transform "${t.name}" in ${source} needs ${what}, e.g. "${t.name}(${what === "a claim name" ? "sub" : "tenant"})".`,
      );
    }
    return t.arg;
  };
  switch (t.name) {
    case "lower":
      noArg();
      return (v) => text(v).toLowerCase();
    case "upper":
      noArg();
      return (v) => text(v).toUpperCase();
    case "len":
      noArg();
      return length;
    case "hash": {
      const alg = (t.arg === undefined || t.arg === "" ? "md5" : t.arg.toLowerCase()) as HashAlgorithm;
      if (!HASH_ALGORITHMS.includes(alg)) {
        throw new CacheConfigError(
          `Key template "${template}": unknown hash algorithm "${t.arg}" in ${source}; use one of ${HASH_ALGORITHMS.join(", ")} (default md5).`,
        );
      }
      return (v) => hashHex(alg, text(v));
    }
    case "jwt": {
      const claim = needArg("a claim name");
      return (v) => jwtClaim(text(v), claim);
    }
    case "get": {
      const name = needArg("an entry name");
      return (v) => {
        if (v instanceof Map) return v.get(name);
        if (typeof v === "object" && v !== null && Object.hasOwn(v, name)) return (v as Record<string, unknown>)[name];
        return undefined;
      };
    }
    default:
      throw new CacheConfigError(
        `Key template "${template}": unknown transform "${t.name}" in ${source}. Known transforms: ${KNOWN_TRANSFORMS.join(", ")}.`,
      );
  }
}

function length(v: unknown): number {
  if (typeof v === "string" || Array.isArray(v)) return v.length;
  if (v instanceof Map || v instanceof Set) return v.size;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return (v as unknown as ArrayLike<unknown>).length;
  return renderValue(v, "len").length;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A claim of an unverified JWT (compact JWS: `header.payload.signature`, an optional `Bearer `
 * prefix is ignored). A token that is not a JWT, or lacks the claim, gives `undefined` (rendered
 * as the empty string): the key does not verify the token, the wrapped function must.
 */
function jwtClaim(token: string, claim: string): unknown {
  const jwt = token.startsWith("Bearer ") ? token.slice(7).trim() : token;
  const parts = jwt.split(".");
  const body = parts[1];
  if (parts.length !== 3 || body === undefined || !BASE64URL.test(body)) return undefined;
  try {
    const b64 = body.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((body.length + 3) % 4);
    const binary = atob(b64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const payload: unknown = JSON.parse(utf8.decode(bytes));
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
    return Object.hasOwn(payload, claim) ? (payload as Record<string, unknown>)[claim] : undefined;
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
  const head = [prefix ?? "", fnName].filter((s) => s !== "").join(":");
  if (head === "") {
    throw new CacheConfigError(
      `Cannot build a default cache key for an anonymous function: give the function a name ` +
        `(async function getUser(id) {…}, or assign the arrow to a const before wrapping it) or pass \`key\` or \`prefix\`.`,
    );
  }
  const { names, rest } = params;
  const literals: string[] = [head];
  const accessors: Accessor[] = [];
  names.forEach((name, i) => {
    const label = name ?? String(i);
    literals[literals.length - 1] += `:${label}:`;
    if (rest && i === names.length - 1) {
      accessors.push((args) => renderValue(args.slice(i), label));
    } else {
      accessors.push((args) => {
        const v = args[i];
        return toText(v, label);
      });
    }
    literals.push("");
  });
  return assemble(literals, accessors);
}
