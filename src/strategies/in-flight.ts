/**
 * The `singleFlight` strategy (the original's `thunder_protection`): concurrent calls of a
 * decorated function with the same call key share one run of it. No caching, no backend: the
 * promise under way is kept in this process only, and forgotten once it settles. (The distributed
 * single-flight of `cache({ lock: true })` is in `single-flight.ts`.)
 * @module
 */
import type { CoreCache } from "../presets/core-cache.js";
import { stateOf } from "../core/state.js";
import { decorator, type Decorator } from "../wrap/decorator.js";
import { callKey, type KeyOption } from "../wrap/key.js";
import { wrappedInfo } from "../wrap/registry.js";
import { checkOptions, prefixOption } from "../options.js";
import { flight } from "./value.js";

/**
 * Options of the `singleFlight` strategy.
 * @example
 * const loadUser = cache.singleFlight({ key: "{id}" })(async (id: string) => db.user(id));
 */
// biome-ignore lint: any args
export interface SingleFlightOptions<A extends any[] = any[]> {
  /**
   * Which calls are the same: a template such as `"{id}"`, or a function of the call's arguments.
   * Default: every argument (calls with equal arguments share a run).
   */
  key?: KeyOption<A>;
  /** Prepended to the key with a `:` (keys are per decorated function anyway). */
  prefix?: string;
}

const KNOWN = ["key", "prefix"] as const;

/**
 * The `singleFlight` strategy on `cache`: while a call is under way, calls with the same key
 * (default: the same arguments) get its promise instead of running the function again; the next
 * call after it settles runs it anew. In-process only (for one run across processes use
 * `cache({ ttl, lock: true })`). The cache is used only for its disable switches: it needs no
 * setup. See {@link SingleFlightOptions}.
 * @example
 * import { CoreCache, singleFlight } from "cashews/core";
 * const cache = new CoreCache();
 * const fetchConfig = singleFlight(cache)(async function fetchConfig(name: string) { return api.config(name); });
 * await Promise.all([fetchConfig("a"), fetchConfig("a")]); // one request
 */
export function singleFlight<A extends any[] = any[]>(cache: CoreCache, options: SingleFlightOptions<A> = {}): Decorator<A> {
  const core = stateOf(cache, "singleFlight");
  checkOptions("singleFlight", options, KNOWN);
  const prefix = prefixOption("singleFlight", options.prefix, "");
  const keyOption = options.key as KeyOption<never[]> | undefined;

  return decorator<A>("singleFlight", core, (target) => {
    // Keys are per function, so an anonymous function needs no name.
    const keyOf = callKey("singleFlight", target.name || prefix || keyOption ? target : { ...target, name: "fn" }, keyOption, prefix);
    const fn = target.fn;
    const inflight = new Map<string, Promise<unknown>>();
    const run = async (thisArg: unknown, args: unknown[]): Promise<unknown> => fn.apply(thisArg, args);
    const singleFlight = (thisArg: unknown, args: unknown[]): Promise<unknown> => {
      try {
        return flight(core, inflight, keyOf(thisArg, args), () => run(thisArg, args));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    // Stacked over a cached function, `invalidate` still finds that function's keys.
    return { call: singleFlight, wrapped: wrappedInfo(fn), name: fn.name };
  });
}
