/**
 * The invalidation bus of a local tier: how instances that keep local copies of one remote store
 * tell each other what changed. A local tier publishes every key it writes or deletes (and a
 * flush for commands that touch many keys) and drops what others publish. Until the bus says it
 * is connected, and whenever it drops, the local tier is flushed and bypassed.
 * @internal
 * @module
 */

/** What crosses the bus: keys (user keys, as the backend sees them) or "everything". */
export type Invalidation = { readonly keys: readonly string[] } | { readonly all: true };

/** Callbacks a bus calls. */
export interface BusListener {
  /** Another instance changed these keys (or everything): drop them locally. */
  invalidate(message: Invalidation): void;
  /**
   * The subscription is confirmed (`true`: local copies may be used from now on) or lost
   * (`false`: flush, and bypass the local copy until it is confirmed again).
   */
  connected(up: boolean): void;
}

/** One instance's end of the bus. */
export interface Bus {
  /** Starts listening; `listener` hears every message but this instance's own. */
  start(listener: BusListener): Promise<void>;
  /** Publishes a change (batched per tick by the implementation where it helps). */
  publish(message: Invalidation): void;
  /** Stops listening and releases connections. */
  close(): Promise<void>;
}
