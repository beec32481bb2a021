/**
 * The backend a conformance suite runs against ({@link ConformanceTarget}) and the lifecycle of
 * what the suite sets up on it: the target started once per `describe`, caches opened on it,
 * cleared between tests and closed after them.
 * @module
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { Cache, CacheCapabilityError, type CacheEventInfo } from "../index.js";
import type { Backend } from "../backends/types.js";
import type { BackendCapabilities, Capability } from "../backends/capabilities.js";

/**
 * One backend configuration a conformance suite runs against: the `setup` URL and options of a
 * cache on it, and what has to start first (a server whose address is only known then).
 *
 * @example
 * import type { ConformanceTarget } from "cashews/testing";
 * const target: ConformanceTarget = {
 *   name: "redis:// (signed)",
 *   url: () => process.env.REDIS_URL ?? "", // "" skips the suite
 *   options: { namespace: "conformance", secret: "s3cret" },
 * };
 */
export interface ConformanceTarget {
  /** A label for the describe blocks. */
  name: string;
  /** The setup URL, read when the suite is registered; `""` skips the suite (e.g. no server in this run). */
  url: () => string;
  /** Extra setup options: `cache.setup(url, options)`. */
  options?: Record<string, unknown>;
  /**
   * Starts what the backend needs before the suite's tests (e.g. a server whose URL is only known
   * then): its `url` and `options` override the ones above, its `stop` runs after the tests.
   */
  start?: () => Promise<{ url?: string; options?: Record<string, unknown>; stop?: () => Promise<void> }>;
  /**
   * For a store that cannot list its keys (and so cannot `clear()`): extra setup options that give
   * an empty store, e.g. `{ namespace: crypto.randomUUID() }`; each test then gets caches on a
   * fresh one instead of cleared ones. Required for such a store.
   */
  fresh?: () => Record<string, unknown>;
  /**
   * For a target whose caches see each other's writes only within a bound (a local tier without an
   * invalidation bus, whose `ttl` is the staleness bound): why. Tests that read another cache's
   * write at once are skipped with this reason.
   */
  staleAcross?: string;
}

/** A started target: where caches are set up, and how to release it. */
interface Started {
  url: string;
  options: Record<string, unknown>;
  stop: () => Promise<void>;
  fresh?: () => Record<string, unknown>;
}

/** Runs `target.start` (if any) and resolves the URL and options a cache is set up with. */
async function startTarget(target: ConformanceTarget): Promise<Started> {
  const started = await target.start?.();
  return {
    url: started?.url ?? target.url(),
    options: { ...target.options, ...started?.options },
    stop: started?.stop ?? (async () => {}),
    fresh: target.fresh,
  };
}

/** Starts what `target` needs and sets a Cache up on it; `stop` releases both (call it in afterAll). */
export async function openTarget(target: ConformanceTarget, name: string): Promise<{ cache: Cache; stop: () => Promise<void> }> {
  const started = await startTarget(target);
  const cache = new Cache(name).setup(started.url, started.options);
  return {
    cache,
    stop: async () => {
      await cache.close();
      await started.stop();
    },
  };
}

/** A target started for the tests of one `describe` (see {@link useTarget}). */
export interface TargetHandle {
  /** The target's label. */
  readonly name: string;
  /** See {@link ConformanceTarget.staleAcross}. */
  readonly staleAcross?: string;
  /** A new Cache named `name`, set up on the started target (starts it first if need be). */
  open(name: string): Promise<Cache>;
  /**
   * Whether two caches set up on the target see each other's values (a network store), probed once:
   * tests of what two processes share skip themselves where it is false.
   */
  shared(): Promise<boolean>;
  /** The backend's capabilities (every flag; absent ones are true), probed once. */
  capabilities(): Promise<BackendCapabilities>;
  /**
   * New caches, one per name, on one empty store: cleared when the store lists its keys, else set
   * up with the target's `fresh()` options (the same for all of them). `extra[i]` adds setup
   * options to the i-th cache (e.g. `compress`).
   */
  openEmpty(names: readonly string[], extra?: readonly (Record<string, unknown> | undefined)[]): Promise<Cache[]>;
}

/**
 * Starts `target` once for the tests of the calling `describe` (in its `beforeAll`, or at the first
 * `open`, whichever comes first) and stops it after them.
 */
export function useTarget(target: ConformanceTarget): TargetHandle {
  let started: Promise<Started> | undefined;
  let shared: Promise<boolean> | undefined;
  let capabilities: Promise<BackendCapabilities> | undefined;
  const ready = (): Promise<Started> => (started ??= startTarget(target));
  const open = async (name: string, extra?: Record<string, unknown>): Promise<Cache> => {
    const { url, options } = await ready();
    return new Cache(name).setup(url, { ...options, ...extra });
  };
  const probeCapabilities = async (): Promise<BackendCapabilities> => {
    const cache = await open(`${target.name} capabilities`);
    try {
      const route = cache.route("");
      await route.start();
      return { atomic: true, locks: true, listing: true, exactExpiry: true, strongConsistency: true, ...route.capabilities };
    } finally {
      await cache.close();
    }
  };
  const openEmpty = async (names: readonly string[], more?: readonly (Record<string, unknown> | undefined)[]): Promise<Cache[]> => {
    const { fresh } = await ready();
    let extra: Record<string, unknown> | undefined;
    if (!(await (capabilities ??= probeCapabilities())).listing) {
      if (!fresh) throw new Error(`${target.name}: the store cannot list (or clear) its keys: give the target a fresh() hook returning options for an empty store`);
      extra = fresh();
    }
    const caches: Cache[] = [];
    for (const [i, name] of names.entries()) caches.push(await open(name, more?.[i] ? { ...extra, ...more[i] } : extra));
    if (extra === undefined) await caches[0]?.clear();
    return caches;
  };
  beforeAll(async () => {
    await ready();
  });
  afterAll(async () => {
    await (await started)?.stop();
  });
  const probe = async (): Promise<boolean> => {
    const [a, b] = [await open(`${target.name} probe a`), await open(`${target.name} probe b`)];
    try {
      const key = `conformance-probe:${Math.random().toString(36).slice(2)}`;
      await a.set(key, 1, { expire: "1m" });
      const seen = (await b.get(key)) === 1;
      await a.delete(key);
      return seen;
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  };
  return {
    name: target.name,
    staleAcross: target.staleAcross,
    open: (name) => open(name),
    shared: () => (shared ??= probe()),
    capabilities: () => (capabilities ??= probeCapabilities()),
    openEmpty,
  };
}

/**
 * The lifecycle of a suite's cache on `target`, registered in the calling `describe`: opened,
 * initialised and cleared before the suite (then handed to `assign`), cleared after each test
 * (failing the test on any `error` event it caused when `noErrors`), closed after the suite.
 * Returns the list of `error` events of the current test.
 */
export function useTargetCache(target: TargetHandle, name: string, assign: (cache: Cache) => void, options: { noErrors?: boolean } = {}): CacheEventInfo[] {
  const errors: CacheEventInfo[] = [];
  let cache: Cache | undefined;
  // A store that cannot clear (no listing) gets a cache on a fresh store per test instead.
  let perTest = false;
  const openOne = async (): Promise<void> => {
    const [opened] = await target.openEmpty([name]);
    cache = opened!;
    opened!.on("error", (e) => void errors.push(e));
    await opened!.init();
    assign(opened!);
  };
  beforeAll(async () => {
    perTest = !(await target.capabilities()).listing;
    if (!perTest) await openOne();
  });
  beforeEach(async () => {
    if (perTest) await openOne();
  });
  afterEach(async () => {
    try {
      if (options.noErrors) expect(errors).toEqual([]);
    } finally {
      // Also after a failed check: the next test starts empty, its errors its own.
      if (perTest) await cache?.close();
      else await cache?.clear();
      errors.length = 0;
    }
  });
  afterAll(async () => {
    if (!perTest) await cache?.close();
  });
  return errors;
}

/**
 * Fresh caches for every test of the calling `describe`, one per name, on the same target: opened
 * (the first one cleared) before each test and handed to `assign`, cleared and closed after it.
 */
export function useCachesPerTest(target: TargetHandle, names: readonly string[], assign: (caches: Cache[]) => void): void {
  let caches: Cache[] = [];
  let listing = true;
  beforeEach(async () => {
    listing = (await target.capabilities()).listing;
    caches = await target.openEmpty(names);
    assign(caches);
  });
  afterEach(async () => {
    if (listing) await caches[0]?.clear();
    await Promise.all(caches.map((c) => c.close()));
  });
}

/**
 * A test of what two caches on the target share ("two processes"): skipped where they share
 * nothing, and where the backend lacks one of `needs` (what one process may do there is checked
 * by the single-process tests: refused).
 */
export function itWhenShared(
  target: TargetHandle,
  name: string,
  needs: readonly Capability[],
  fn: () => Promise<void>,
  options: { freshAcross?: boolean } = {},
): void {
  it(name, async (ctx) => {
    ctx.skip(!(await target.shared()), "values are not shared between two caches on this target");
    // A test that reads another cache's write at once cannot pass within a staleness bound.
    if (options.freshAcross && target.staleAcross !== undefined) ctx.skip(true, target.staleAcross);
    const have = await target.capabilities();
    const missing = needs.filter((c) => !have[c]);
    ctx.skip(missing.length > 0, `the backend lacks ${missing.join(", ")}`);
    await fn();
  });
}

/**
 * The backend behind `key`'s route (the default route for ""), as created: not its view through
 * the cache's middleware or an observability probe (a spy set on a view would land on the backend
 * and call the view again). For counting calls and writing raw values.
 */
export async function backendOf(cache: Cache, key = ""): Promise<Backend> {
  const route = cache.route(key);
  await route.start();
  return route.created ?? route.start();
}

/**
 * A test of what needs `capabilities`: run as written where the backend has them all; where it
 * lacks one, running it must be refused with a {@link CacheCapabilityError} naming a missing one
 * (at wrap time or by the command: never a silently wrong answer).
 */
export function itNeeds(target: TargetHandle, capabilities: readonly Capability[], name: string, fn: () => Promise<void>, timeout?: number): void {
  it(
    name,
    async () => {
      const have = await target.capabilities();
      const missing = capabilities.filter((c) => !have[c]);
      if (missing.length === 0) return fn();
      const error = await fn().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `refused without ${missing.join(", ")}`).toBeInstanceOf(CacheCapabilityError);
      expect(missing).toContain((error as CacheCapabilityError).capability);
    },
    timeout,
  );
}
