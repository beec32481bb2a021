/**
 * An invalidation bus on `BroadcastChannel` (Deno and Deno Deploy isolates; Node and Bun workers):
 * what a local tier in front of a store shared by isolates of one process (or one deployment)
 * publishes and hears. No confirmation exists, and a channel reaches only the isolates the
 * platform connects (on Deno Deploy, not every isolate everywhere), so the copy is used from
 * `start` on and its `ttl` stays the bound for what the channel does not carry.
 *
 * Batching per tick, the wire format (each bus's id, so two caches of one isolate hear each other)
 * and reading messages are the channel bus's (channel-bus.ts); a channel is never lost, so there
 * is no heartbeat and one subscription lasts until `close()`.
 * @internal
 * @module
 */
import type { Bus } from "./bus.js";
import { ChannelBus } from "./channel-bus.js";

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

/** The bus on one channel name (see the module comment). */
class BroadcastBus extends ChannelBus {
  readonly #name: string;
  /** Posts (its own object: what is published before close() still goes out after the subscription ends). */
  #post: Channel | undefined;

  constructor(name: string) {
    super({ heartbeatMs: 0 });
    this.#name = name;
  }

  protected async send(payload: string): Promise<void> {
    if (this.#post === undefined) {
      const Ctor = channelConstructor();
      if (Ctor === undefined) throw new Error("BroadcastChannel is not available in this runtime");
      unref((this.#post = new Ctor(this.#name)));
    }
    this.#post.postMessage(payload);
  }

  override async close(): Promise<void> {
    await super.close(); // sends what is pending first
    this.#post?.close();
    this.#post = undefined;
  }

  protected subscribeOnce(signal: AbortSignal, confirmed: () => void): Promise<void> {
    const Ctor = channelConstructor();
    if (Ctor === undefined) return Promise.reject(new Error("BroadcastChannel is not available in this runtime"));
    const channel = new Ctor(this.#name);
    channel.onmessage = (event) => {
      if (typeof event.data === "string") this.receive(event.data);
    };
    // A message lost to deserialisation may have been an invalidation: end the subscription, which
    // reports it lost (the copy is flushed) and opens the channel again.
    return new Promise<void>((resolve) => {
      const done = (): void => {
        channel.onmessage = channel.onmessageerror = null;
        channel.close();
        resolve();
      };
      channel.onmessageerror = done;
      signal.addEventListener("abort", done, { once: true });
      unref(channel);
      confirmed();
    });
  }
}

/**
 * A {@link Bus} on a `BroadcastChannel` named `channelName`: every invalidation is posted (the keys
 * of one tick in one message; "all" swallows keys), what other buses on that name post is heard,
 * and the bus says it is connected as soon as it starts (a channel has no confirmation: the local
 * `ttl` bounds what it does not carry). A message that cannot be read flushes the copy. The
 * channel does not keep the process alive where the runtime lets it go (see `unref`), and
 * `close()` closes it.
 * @param channelName The channel: one per shared store and key space (two stores never share one).
 * @example
 * const bus = createBroadcastBus(JSON.stringify(["cashews", "deno-kv", "/data/cache.db", "cashews"]));
 * const backend = withLocalTier(remote, { size: 10_000, ttl: 5_000 }, bus);
 */
export function createBroadcastBus(channelName: string): Bus {
  return new BroadcastBus(channelName);
}
