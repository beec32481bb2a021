/**
 * The hit path's clock, shared by the memory backend and the Redis clientSide local copy, and
 * the helper that keeps a timer from holding a process open.
 *
 * `Date.now()` costs 25–45 ns, more than the rest of a hit. Like lru-cache, the read path keeps
 * the value for about a millisecond (an unref'd timer clears it), so a hit may see an entry up
 * to ~1 ms (or one long synchronous stretch) past its deadline; never before it. Writes, TTL
 * queries, locks and the purge read the clock exactly. When `Date` has been replaced (fake timers
 * in tests), every read goes to it, so `vi.setSystemTime` and friends act at once.
 * @internal
 * @module
 */
const RealDate = Date;
const realSetTimeout: typeof setTimeout = globalThis.setTimeout;
let coarseNow = 0;

function clearCoarseNow(): void {
  coarseNow = 0;
}

/** `Date.now()`, read at most about once per millisecond. */
export function hitNow(): number {
  if (Date !== RealDate) return Date.now();
  return coarseNow !== 0 ? coarseNow : refreshCoarseNow();
}

/**
 * False once a timer could not be unref'd, i.e. outside a long-lived process (Workers, browsers).
 * In workerd a timer armed by a request that returns first is cancelled, never fires, so a cached
 * reading would freeze the hit path's clock for the isolate's life: there, read it on every hit.
 */
let coarseClock = true;

function refreshCoarseNow(): number {
  const now = RealDate.now();
  if (!coarseClock) return now;
  try {
    if (unrefTimer(realSetTimeout(clearCoarseNow, 1))) coarseNow = now;
    else coarseClock = false;
  } catch {
    // No timers here (a Workers isolate's global scope): read the clock on every hit instead.
  }
  return now;
}

/**
 * Lets the process exit while the timer runs: `unref()` on Node and Bun, `Deno.unrefTimer` on Deno.
 * Returns false where neither exists (Workers, browsers).
 */
export function unrefTimer(timer: ReturnType<typeof setInterval> | ReturnType<typeof setTimeout>): boolean {
  // A Node or Bun timer is an object with `unref`; a number (Deno, browsers) has none.
  const handle = timer as unknown as { unref?: () => void };
  if (typeof handle?.unref === "function") {
    handle.unref();
    return true;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof timer === "number" && typeof deno?.unrefTimer === "function") {
    deno.unrefTimer(timer);
    return true;
  }
  return false;
}
