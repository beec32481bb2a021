/**
 * The `invalidate` strategy: `cache.invalidate(target, { argsMap?, defaults? })` deletes cached
 * entries after the decorated function **succeeds** (an error propagates and deletes nothing).
 *
 * The target is either
 * - a key template, formatted with the decorated call's arguments (by the decorated function's
 *   parameter names, as in `key` templates): `"user:{id}"` deletes that one key (an exact
 *   `delete`); a template with glob characters in its literal text (`"items:page:*"`,
 *   `"user:{id}:?"`) deletes every match (`deleteMatch`). Argument values are escaped in a pattern,
 *   so an id of `"*"` matches only a literal `*`, never every key;
 * - a decorated (cached) function: the key it would use is rebuilt from its own parameters. The value
 *   of each of its parameters comes from `argsMap[param]` (a function of the decorated call's
 *   arguments, or the name of one of its parameters), else `defaults[param]`, else the decorated
 *   function's parameter of the same name, else `undefined` (like a call that omits it).
 *   Parameters can also be named by position (`"0"`), which reaches destructured ones. For a method
 *   target, the decorated call's `this` is used to build the key (methods of one class).
 *
 * With a template target, `argsMap` and `defaults` supply or rename the template's fields the same
 * way. Everything is checked at wrap time: unknown names throw {@link CacheConfigError}.
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import { escapeGlob } from "../backends/glob.js";
import { keyContext } from "../context/key-context.js";
import { CacheConfigError } from "../errors.js";
import { compileKey, parameterNames, parseTemplate, type ParamInfo } from "../keys/index.js";
import { decorator, type Decorator, type Target } from "../wrap/decorator.js";
import { checkOptions } from "../options.js";
import { unwrap, wrappedInfo, type Wrapped } from "../wrap/registry.js";

/**
 * Where the value of one parameter of the target comes from: a function of the decorated call's
 * arguments, or the name of a parameter of the decorated function. (The arguments are wrapped in a
 * conditional type so that an `argsMap` function never decides what the decorated function takes.)
 */
// biome-ignore lint: any args
export type ArgSource<A extends any[] = any[]> = string | ((...args: [A] extends [infer B extends any[]] ? B : never) => unknown);

/**
 * Options of the `invalidate` strategy: how the target's key is built from the decorated call.
 * @example
 * const getUser = cache({ ttl: "1h", key: "user:{id}" })(async (id: string) => db.user(id));
 * // the decorated function takes a User: map the target's `id` parameter from it
 * const saveUser = cache.invalidate(getUser, { argsMap: { id: (user: User) => user.id } })(
 *   async (user: User) => db.save(user),
 * );
 */
// biome-ignore lint: any args
export interface InvalidateOptions<A extends any[] = any[]> {
  /**
   * Per parameter of the target (or field of the template): a function of the decorated call's
   * arguments, or the name of one of the decorated function's parameters.
   */
  argsMap?: Readonly<Record<string, ArgSource<A>>>;
  /** Per parameter of the target (or field of the template): a fixed value. */
  defaults?: Readonly<Record<string, unknown>>;
}

/**
 * What `invalidate` may target: a key template (`"user:{id}"`, a glob such as `"items:page:*"`)
 * or a function a caching strategy returned.
 */
// biome-ignore lint: any args
export type InvalidateTarget = string | ((...args: any[]) => unknown);

const KNOWN = ["argsMap", "defaults"] as const;
const GLOB = /[*?[]/;
const POSITION = /^\d+$/;

type Getter = (thisArg: unknown, args: unknown[]) => unknown;

/**
 * The `invalidate` strategy on `cache`: after the decorated function succeeds, delete a key
 * template's entries or a cached function's entry (see {@link InvalidateOptions}).
 * @example
 * import { CoreCache, invalidate } from "cashews/core";
 * const cache = new CoreCache().setup("mem://");
 * const getUser = cache.cache({ ttl: "1h", key: "user:{id}" })(async (id: string) => db.user(id));
 * const rename = invalidate(cache, getUser)(async (id: string, name: string) => db.rename(id, name));
 * const addItem = invalidate(cache, "items:page:*")(async (item: Item) => db.add(item));
 */
// biome-ignore lint: any args
export function invalidate<A extends any[] = any[]>(cache: CoreCache, target: InvalidateTarget, options: InvalidateOptions<A> = {}): Decorator<A> {
  const core = stateOf(cache, "invalidate");
  checkOptions("invalidate", options, KNOWN);
  const argsMap = record("argsMap", options.argsMap);
  const defaults = record("defaults", options.defaults);
  for (const [name, source] of Object.entries(argsMap)) {
    if (typeof source !== "string" && typeof source !== "function") {
      throw new CacheConfigError(`invalidate: argsMap.${name} must be a function of the call's arguments or a parameter name, got ${typeof source}`);
    }
  }
  let info: Wrapped | undefined;
  let listing: string | undefined;
  if (typeof target === "function") {
    info = wrappedInfo(target);
    if (info === undefined) {
      throw new CacheConfigError(
        `invalidate: ${target.name ? `"${target.name}"` : "the target function"} is not a cached function; pass the function a strategy such as cache.cache(...) returned, or a key template`,
      );
    }
  } else if (typeof target === "string") {
    if (target === "") throw new CacheConfigError("invalidate: the key template is empty");
    // Syntax errors now; a glob needs a store that lists keys (refused now when none can).
    if (parseTemplate(target).some((s) => s.kind === "literal" && GLOB.test(s.text))) listing = `invalidate("${target}")`;
  } else {
    throw new CacheConfigError(`invalidate: the target must be a key template or a cached function, got ${target === null ? "null" : typeof target}`);
  }

  if (listing) core.needAtWrap(listing, "listing");
  return decorator<A>("invalidate", core, (decorated) => {
    const drop = info === undefined ? patternDeleter(cache, target as string, decorated, argsMap, defaults) : functionDeleter(cache, info, decorated, argsMap, defaults);
    const fn = decorated.fn;
    const invalidating = async (thisArg: unknown, args: unknown[]): Promise<unknown> => {
      // Before the call: when no backend lists keys, the deletion after it could not happen.
      if (listing) {
        for (const route of core.routes) await route.declare("listing");
        core.needAtWrap(listing, "listing");
      }
      const result = await fn.apply(thisArg, args);
      await drop(thisArg, args);
      return result;
    };
    // Keeps the name (a default key of a strategy stacked on top uses it) and what was recorded
    // for a cached function: over one, the decorated function is still a valid invalidate target.
    return { call: invalidating, wrapped: wrappedInfo(fn), name: fn.name };
  });
}

type Deleter = (thisArg: unknown, args: unknown[]) => Promise<unknown>;

function record<T>(what: string, value: Readonly<Record<string, T>> | undefined): Readonly<Record<string, T>> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CacheConfigError(`invalidate: "${what}" must be an object keyed by parameter name, got ${value === null ? "null" : typeof value}`);
  }
  return value;
}

/** The decorated function's parameters, or the error explaining why they cannot be read. */
function paramsOf(target: Target): ParamInfo | CacheConfigError {
  try {
    return parameterNames(unwrap(target.fn));
  } catch (error) {
    if (error instanceof CacheConfigError) return error;
    throw error;
  }
}

const list = (names: readonly (string | undefined)[]): string =>
  names.length === 0 ? "none" : names.map((n, i) => (n === undefined ? `${i} (destructured)` : n)).join(", ");

/**
 * Getters for values by name: `argsMap`, then `defaults`, then the decorated function's parameter
 * of that name; `undefined` when none applies. `own` lists the names the target accepts.
 */
function resolver(
  decorated: Target,
  own: readonly (string | undefined)[],
  ownWhat: string,
  positions: boolean,
  argsMap: Readonly<Record<string, ArgSource>>,
  defaults: Readonly<Record<string, unknown>>,
): (name: string) => Getter | undefined {
  const params = paramsOf(decorated);
  const calledName = decorated.name ? `"${decorated.name}"` : "the decorated function";
  const byName = (name: string, why: string): Getter | undefined => {
    if (POSITION.test(name)) {
      const at = Number(name);
      return (_, args) => args[at];
    }
    if (params instanceof CacheConfigError) {
      if (why === "") return undefined;
      throw new CacheConfigError(`invalidate: ${why}, but ${params.message}`, { cause: params });
    }
    const at = params.names.indexOf(name);
    if (at < 0) {
      if (why === "") return undefined;
      throw new CacheConfigError(`invalidate: ${why}; ${calledName} has the parameters: ${list(params.names)}`);
    }
    return params.rest && at === params.names.length - 1 ? (_, args) => args.slice(at) : (_, args) => args[at];
  };
  const known = (name: string): boolean => own.includes(name) || (positions && POSITION.test(name) && Number(name) < own.length);
  for (const [what, keys] of [
    ["argsMap", Object.keys(argsMap)],
    ["defaults", Object.keys(defaults)],
  ] as const) {
    for (const name of keys) {
      if (!known(name)) throw new CacheConfigError(`invalidate: ${what}.${name} is not ${ownWhat}, which has: ${list(own)}`);
    }
  }
  const getters = new Map<string, Getter | undefined>();
  for (const [name, source] of Object.entries(argsMap)) {
    getters.set(
      name,
      typeof source === "function"
        ? (thisArg, args) => source.apply(thisArg, args)
        : byName(source, `argsMap.${name} names "${source}", which is not a parameter of ${calledName}`),
    );
  }
  return (name) => {
    if (getters.has(name)) return getters.get(name);
    if (Object.hasOwn(defaults, name)) {
      const value = defaults[name];
      return () => value;
    }
    return byName(name, "");
  };
}

/** Deletes the cached entry of a decorated function, its key rebuilt from the call. */
function functionDeleter(
  cache: CoreCache,
  info: Wrapped,
  decorated: Target,
  argsMap: Readonly<Record<string, ArgSource>>,
  defaults: Readonly<Record<string, unknown>>,
): Deleter {
  const targetName = info.target.name ? `"${info.target.name}"` : "the target function";
  const params = paramsOf(info.target);
  if (params instanceof CacheConfigError) {
    throw new CacheConfigError(`invalidate: cannot rebuild the key of ${targetName}: ${params.message}`, { cause: params });
  }
  const value = resolver(decorated, params.names, `a parameter of ${targetName}`, true, argsMap, defaults);
  // A position ("0") maps only when argsMap/defaults name it; otherwise a parameter goes by its name.
  const getters = params.names.map((name, i) => {
    const position = String(i);
    if (Object.hasOwn(argsMap, position) || Object.hasOwn(defaults, position)) return value(position);
    return name === undefined ? undefined : value(name);
  });
  const rest = params.rest;
  const last = getters.length - 1;
  const method = info.target.method;
  return (thisArg, args) => {
    const targetArgs: unknown[] = [];
    getters.forEach((get, i) => {
      const v = get?.(thisArg, args);
      if (rest && i === last) {
        if (Array.isArray(v)) targetArgs.push(...v);
        else if (v !== undefined) targetArgs.push(v);
      } else targetArgs.push(v);
    });
    // A method's default key names its class, read from `this`: the decorated method's, when both are methods.
    const key = info.keyOf(method ? thisArg : undefined, targetArgs);
    return cache.delete(key);
  };
}

/** Deletes what a key template, formatted with the call's arguments, names (a glob: every match). */
function patternDeleter(
  cache: CoreCache,
  template: string,
  decorated: Target,
  argsMap: Readonly<Record<string, ArgSource>>,
  defaults: Readonly<Record<string, unknown>>,
): Deleter {
  const segments = parseTemplate(template);
  const roots = [...new Set(segments.flatMap((s) => (s.kind === "field" && s.root !== "@" ? [s.root] : [])))];
  const usesContext = segments.some((s) => s.kind === "field" && s.root === "@");
  const glob = segments.some((s) => s.kind === "literal" && GLOB.test(s.text));
  const name = decorated.name;

  // Fields read the decorated call's arguments, unless argsMap/defaults supply or rename them: then
  // the template is compiled against its own field names, each resolved like a target's parameter.
  let compileFor: (source: string) => (args: readonly unknown[], ctx?: Readonly<Record<string, unknown>>) => string;
  let argsOf: (thisArg: unknown, args: unknown[]) => unknown[];
  if (Object.keys(argsMap).length === 0 && Object.keys(defaults).length === 0) {
    const params = paramsOf(decorated);
    const keyTarget = { name, params: params instanceof CacheConfigError ? { names: [], rest: false } : params };
    compileFor = (source) => {
      try {
        return compileKey(source, keyTarget);
      } catch (error) {
        if (params instanceof CacheConfigError && roots.some((r) => !POSITION.test(r))) throw params;
        throw error;
      }
    };
    argsOf = (_, args) => args;
  } else {
    const named = roots.filter((root) => !POSITION.test(root));
    const value = resolver(decorated, named, `a field of the template "${template}"`, false, argsMap, defaults);
    const getters = named.map((root) => value(root));
    // Positions ({0}) still index the call's arguments: they come first, the named fields after.
    const positions = roots.filter((root) => POSITION.test(root)).reduce((n, root) => Math.max(n, Number(root) + 1), 0);
    const keyTarget = { name, params: { names: [...new Array<undefined>(positions), ...named], rest: false } };
    compileFor = (source) => compileKey(source, keyTarget);
    argsOf = (thisArg, args) => {
      const values: unknown[] = args.slice(0, positions);
      values.length = positions;
      for (const get of getters) values.push(get?.(thisArg, args));
      return values;
    };
  }

  // A pattern: literal text is the user's glob, argument values are escaped. Else one exact key.
  const parts = glob
    ? segments.map((s) => {
        if (s.kind === "literal") return s.text;
        const build = compileFor(s.source);
        return (args: readonly unknown[], ctx?: Readonly<Record<string, unknown>>) => escapeGlob(build(args, ctx));
      })
    : [compileFor(template)];
  return (thisArg, args) => {
    const values = argsOf(thisArg, args);
    const ctx = usesContext ? keyContext() : undefined;
    let key = "";
    for (const part of parts) key += typeof part === "string" ? part : part(values, ctx);
    return glob ? cache.deleteMatch(key) : cache.delete(key);
  };
}
