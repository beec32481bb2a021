/**
 * An invalidation bus on `BroadcastChannel` (Deno and Deno Deploy isolates; Node and Bun workers):
 * what a local tier in front of a store shared by isolates of one process (or one deployment)
 * publishes and hears. No confirmation exists, and a channel reaches only the isolates the
 * platform connects (on Deno Deploy, not every isolate everywhere), so the copy is used from
 * `start` on and its `ttl` stays the bound for what the channel does not carry.
 *
 * Messages are plain objects (structured-cloneable): `{ cashews: 1, from, keys }` or
 * `{ cashews: 1, from, all: true }`, `from` the sending bus's id (two caches of one isolate on one
 * channel hold two objects, and each hears the other).
 * @internal
 * @module
 */
import type { Bus, BusListener, Invalidation } from "./bus.js";

/** What crosses the channel. */
interface Wire {
  readonly cashews: 1;
  readonly from: string;
  readonly keys?: readonly string[];
  readonly all?: true;
}

/** The slice of `BroadcastChannel` used (plus Node's and Bun's `unref`). */
interface Channel {
  onmessage: ((event: { data: unknown }) => void) | null;
  onmessageerror: ((event: unknown) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
  unref?(): void;
}

type ChannelConstructor = new (name: string) => Channel;

/** `BroadcastChannel` where the runtime has it, else `undefined`. */
function channelConstructor(): ChannelConstructor | undefined {
  const ctor = (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel;
  return typeof ctor === "function" ? (ctor as ChannelConstructor) : undefined;
}

/**
 * Whether this runtime has `BroadcastChannel` (so {@link createBroadcastBus} can work here).
 * @example
 * const bus = hasBroadcastChannel() ? createBroadcastBus("cashews:app") : undefined;
 */
export function hasBroadcastChannel(): boolean {
  return channelConstructor() !== undefined;
}

/**
 * Lets the process exit while the channel listens: `unref()` on Node and Bun; on Deno, the hook its
 * own `node:worker_threads` uses (an internal symbol, looked up by its description, so nothing
 * breaks where it is absent). Best effort: where neither exists, the channel holds the event loop
 * open until the cache is closed.
 */
function unref(channel: Channel): void {
  if (typeof channel.unref === "function") {
    channel.unref();
    return;
  }
  const proto = Object.getPrototypeOf(channel) as object | null;
  if (proto === null) return;
  const symbol = Object.getOwnPropertySymbols(proto).find((s) => s.description === "refBroadcastChannel");
  const hook = symbol === undefined ? undefined : (channel as unknown as Record<symbol, unknown>)[symbol];
  if (typeof hook === "function") {
    try {
      (hook as (refed: boolean) => void).call(channel, false);
    } catch {
      // an internal that changed shape: the channel stays referenced
    }
  }
}

/** A fresh id for one bus (which of two channels on one name sent a message). */
function busId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return typeof crypto?.randomUUID === "function" ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** The invalidation a wire message carries, or `undefined` for anything else (not ours, malformed). */
function invalidationOf(data: unknown, self: string): Invalidation | undefined {
  const wire = data as Partial<Wire> | null;
  if (typeof wire !== "object" || wire === null || wire.cashews !== 1 || typeof wire.from !== "string" || wire.from === self) return undefined;
  if (wire.all === true) return { all: true };
  if (Array.isArray(wire.keys) && wire.keys.every((key) => typeof key === "string")) return { keys: wire.keys };
  return undefined;
}

/**
 * A {@link Bus} on a `BroadcastChannel` named `channelName`: every invalidation is posted (the keys
 * of one tick in one message; "all" swallows keys), what other buses on that name post is heard,
 * and the bus says it is connected as soon as it starts (a channel has no confirmation: the local
 * `ttl` bounds what it does not carry). A message that cannot be read flushes everything. The
 * channel does not keep the process alive where the runtime lets it go (see `unref`), and
 * `close()` closes it. Throws at `start` where the runtime has no `BroadcastChannel`.
 * @param channelName The channel: one per shared store and key space (two stores never share one).
 * @example
 * const bus = createBroadcastBus(JSON.stringify(["cashews", "deno-kv", "/data/cache.db", "cashews"]));
 * const backend = withLocalTier(remote, { size: 10_000, ttl: 5_000 }, bus);
 */
export function createBroadcastBus(channelName: string): Bus {
  const id = busId();
  let channel: Channel | undefined;
  let closed = false;
  /** Keys waiting for this tick's message, or "all". */
  let pending: Set<string> | "all" | undefined;

  const post = (): void => {
    const batch = pending;
    pending = undefined;
    if (batch === undefined || channel === undefined || (batch !== "all" && batch.size === 0)) return;
    const message: Wire = batch === "all" ? { cashews: 1, from: id, all: true } : { cashews: 1, from: id, keys: [...batch] };
    try {
      channel.postMessage(message);
    } catch {
      // a channel closed under us: nothing listens through it any more
    }
  };

  return {
    async start(listener: BusListener): Promise<void> {
      const Ctor = channelConstructor();
      if (Ctor === undefined) throw new Error("BroadcastChannel is not available in this runtime");
      closed = false;
      const opened = new Ctor(channelName);
      channel = opened;
      opened.onmessage = (event) => {
        const message = invalidationOf(event.data, id);
        if (message !== undefined && !closed) listener.invalidate(message);
      };
      // A message lost to deserialisation may have been an invalidation: drop everything.
      opened.onmessageerror = () => {
        if (!closed) listener.invalidate({ all: true });
      };
      unref(opened);
      listener.connected(true);
    },

    publish(message: Invalidation): void {
      if (closed || channel === undefined) return;
      const first = pending === undefined;
      if ("all" in message) pending = "all";
      else if (pending !== "all") {
        pending ??= new Set();
        for (const key of message.keys) pending.add(key);
      }
      if (first) queueMicrotask(post);
    },

    async close(): Promise<void> {
      if (closed) return;
      // What this tick wrote still goes out before the channel closes.
      post();
      closed = true;
      channel?.close();
      channel = undefined;
    },
  };
}
