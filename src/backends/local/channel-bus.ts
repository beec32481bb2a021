/**
 * A bus (see bus.ts) over a publish/subscribe channel of the remote store: what the Upstash bus
 * (REST `PUBLISH` and server-sent events) and the Redis Cluster bus (`PUBLISH` and a subscriber
 * connection) share. A subclass says how to publish a payload and how to hold one subscription;
 * this class does the rest:
 *
 * - Publishing: keys are collected per tick and go out as one message (above `maxKeys`, or too long
 *   a message: one `all`), in order. A publish that fails is retried twice; then an `all` is owed
 *   and retried with back-off until one goes through (an invalidation is never dropped).
 * - Subscribing: `connected(true)` once a subscription is confirmed, `connected(false)` whenever it
 *   ends or fails, then a new one with back-off (at once after one that lived a while).
 * - Heartbeat (optional): every `heartbeatMs` the instance publishes a ping and must hear it back
 *   within `heartbeatMs`, or the subscription counts as lost (a silent, half-open stream).
 * - Messages are JSON `{ v: 1, id, keys | all | ping }`; an instance ignores its own.
 *
 * No `node:*` imports, no `Buffer`: runs wherever `crypto.randomUUID` and timers exist.
 * @internal
 * @module
 */
import type { Bus, BusListener, Invalidation } from "./bus.js";

/** What a message on the channel carries (JSON). */
interface Wire {
  /** Format version. */
  v: 1;
  /** The publishing instance (its own messages are ignored). */
  id: string;
  keys?: string[];
  all?: true;
  /** A liveness probe: only its sender looks at it. */
  ping?: number;
}

/** Settings every channel bus takes. */
export interface ChannelBusOptions {
  /** Above this many keys in one tick a single `all` is published instead; default 1000. */
  maxKeys?: number;
  /**
   * Liveness probe: every `heartbeatMs` the instance publishes a ping and expects to hear it back
   * within `heartbeatMs`, or the subscription counts as lost (a silent, half-open stream). 0 = off
   * (default 15 000).
   */
  heartbeatMs?: number;
  /** Back-off before subscribing again after attempt `n` (0-based); default 50·2ⁿ ms up to 2 s, jittered. */
  backoff?: (attempt: number) => number;
  /** Failed publishes and unexpected subscription errors (for logs); default: ignored. */
  onError?: (error: unknown) => void;
}

/** Above this a batch of keys is published as `all`. */
const MAX_PAYLOAD_CHARS = 64 * 1024;

/**
 * The invalidation channel of a namespace: `cashews:<namespace>:invalidate`, with every character
 * outside `[A-Za-z0-9.:-]` (and `_`) written `_xx` (hex), so the name is safe in a URL path and has
 * no comma (Upstash's event lines are comma-separated), and different namespaces never share a channel.
 */
export function invalidationChannel(namespace: string): string {
  const escaped = Array.from(new TextEncoder().encode(namespace), (byte) => {
    const ch = String.fromCharCode(byte);
    return /[A-Za-z0-9.:-]/.test(ch) ? ch : `_${byte.toString(16).padStart(2, "0")}`;
  }).join("");
  return `cashews:${escaped}:invalidate`;
}

const defaultBackoff = (attempt: number) => {
  const base = Math.min(2000, 50 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
};

/** A bus over a publish/subscribe channel (see the module comment). */
export abstract class ChannelBus implements Bus {
  readonly #id = globalThis.crypto.randomUUID();
  readonly #options: ChannelBusOptions;
  readonly #maxKeys: number;
  readonly #heartbeatMs: number;

  #listener: BusListener | undefined;
  #closed = false;
  #up = false;
  #loop: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #wake: (() => void) | undefined;

  // Publishing: what the current tick collected, and the publish in flight.
  #pendingKeys = new Set<string>();
  #pendingAll = false;
  #scheduled: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> = Promise.resolve();

  // Heartbeat.
  #pingSeq = 0;
  #pingHeard = 0;

  constructor(options: ChannelBusOptions) {
    this.#options = options;
    this.#maxKeys = options.maxKeys ?? 1000;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  /** Publishes `payload` on the channel; rejects when it did not go through (in time). */
  protected abstract send(payload: string): Promise<void>;

  /**
   * Holds one subscription: calls `confirmed()` once it is in place, hands every payload on the
   * channel to {@link receive}, and returns (or throws) when it is gone. Must end soon after
   * `signal` aborts.
   */
  protected abstract subscribeOnce(signal: AbortSignal, confirmed: () => void): Promise<void>;

  /** This instance's id (what its messages carry). */
  get id(): string {
    return this.#id;
  }

  /** Whether the bus is closed (a subscription in progress should end). */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** Reports an error through `onError`. */
  protected report(error: unknown): void {
    this.#options.onError?.(error);
  }

  start(listener: BusListener): Promise<void> {
    if (this.#listener) throw new Error("bus: already started");
    if (this.#closed) throw new Error("bus: closed");
    this.#listener = listener;
    // Resolves once the first attempt settled: confirmed (connected(true) already called) or failed.
    return new Promise<void>((resolve) => {
      this.#loop = this.#run(resolve);
    });
  }

  publish(message: Invalidation): void {
    if (this.#closed) return;
    if ("all" in message) {
      this.#pendingAll = true;
      this.#pendingKeys.clear();
    } else if (!this.#pendingAll) {
      for (const key of message.keys) this.#pendingKeys.add(key);
      if (this.#pendingKeys.size > this.#maxKeys) {
        this.#pendingAll = true;
        this.#pendingKeys.clear();
      }
    }
    // One message per tick: everything published before the timer fires goes out together.
    this.#scheduled ??= setTimeout(() => {
      this.#scheduled = undefined;
      this.#flushPublishes();
    }, 0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#scheduled !== undefined) {
      clearTimeout(this.#scheduled);
      this.#scheduled = undefined;
      this.#flushPublishes(); // what was published before close still goes out
    }
    this.#closed = true;
    this.#abort?.abort();
    this.#wake?.();
    await Promise.allSettled([this.#loop, this.#inFlight]);
    this.#setUp(false);
  }

  // --- publishing -------------------------------------------------------------------------------

  #all(): string {
    return JSON.stringify({ v: 1, id: this.#id, all: true } satisfies Wire);
  }

  #flushPublishes(): void {
    if (!this.#pendingAll && this.#pendingKeys.size === 0) return;
    let payload = this.#pendingAll ? this.#all() : JSON.stringify({ v: 1, id: this.#id, keys: [...this.#pendingKeys] } satisfies Wire);
    this.#pendingAll = false;
    this.#pendingKeys = new Set();
    // Long keys: stay well under request sizes and the 1 MiB event lines readers accept.
    if (payload.length > MAX_PAYLOAD_CHARS) payload = this.#all();
    // Publishes go out in order (a later `all` never overtakes earlier keys, nor the reverse).
    this.#inFlight = this.#inFlight.then(() => this.#sendWithRetry(payload));
  }

  /**
   * Retries a failed publish twice; if it still fails the invalidation is not dropped: an `all` is
   * owed and retried with back-off (merged with later publishes) until one goes through, or close().
   */
  async #sendWithRetry(payload: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.send(payload);
        return;
      } catch (error) {
        if (this.#closed) {
          this.report(error);
          return;
        }
        if (attempt >= 2) {
          this.report(error);
          payload = this.#all();
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 25 * 2 ** attempt)));
        if (this.#closed) return; // closed while waiting: no more sends
        if (attempt >= 2 && (this.#pendingAll || this.#pendingKeys.size)) {
          // Later publishes are covered by the owed `all`.
          this.#pendingAll = false;
          this.#pendingKeys = new Set();
        }
      }
    }
  }

  // --- subscribing ------------------------------------------------------------------------------

  #setUp(up: boolean): void {
    if (this.#up === up) return;
    this.#up = up;
    try {
      this.#listener?.connected(up);
    } catch (error) {
      this.report(error);
    }
  }

  async #run(firstSettled: () => void): Promise<void> {
    let attempt = 0;
    let settle: (() => void) | undefined = firstSettled;
    const settled = () => {
      settle?.();
      settle = undefined;
    };
    while (!this.#closed) {
      let confirmedAt = 0;
      const abort = (this.#abort = new AbortController());
      let heartbeat: ReturnType<typeof setTimeout> | undefined;
      try {
        await this.subscribeOnce(abort.signal, () => {
          if (confirmedAt || abort.signal.aborted) return;
          confirmedAt = Date.now();
          this.#setUp(true);
          settled();
          if (this.#heartbeatMs > 0) heartbeat = this.#startHeartbeat(abort, (timer) => (heartbeat = timer));
        });
      } catch (error) {
        if (!this.#closed && !abort.signal.aborted) this.report(error);
      } finally {
        clearTimeout(heartbeat);
        abort.abort();
        if (this.#abort === abort) this.#abort = undefined;
      }
      this.#setUp(false);
      settled();
      if (this.#closed) break;
      // A subscription that lived a while is resumed at once; one that keeps failing, or dropping
      // right after its confirmation, backs off.
      if (confirmedAt && Date.now() - confirmedAt >= 1000) attempt = 0;
      const wait = attempt === 0 && confirmedAt ? 0 : (this.#options.backoff ?? defaultBackoff)(attempt);
      attempt++;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    settled();
  }

  /** Every heartbeatMs: check the last ping came back (else abort the subscription), then send the next one. */
  #startHeartbeat(abort: AbortController, next: (timer: ReturnType<typeof setTimeout>) => void): ReturnType<typeof setTimeout> {
    const seqAtStart = this.#pingSeq;
    this.#pingHeard = seqAtStart;
    const tick = () => {
      if (abort.signal.aborted || this.#closed) return;
      if (this.#pingSeq !== seqAtStart && this.#pingHeard !== this.#pingSeq) {
        abort.abort(); // the last ping never came back: the subscription is silent
        return;
      }
      const seq = ++this.#pingSeq;
      this.send(JSON.stringify({ v: 1, id: this.#id, ping: seq } satisfies Wire)).catch(() => {});
      next(setTimeout(tick, this.#heartbeatMs));
    };
    return setTimeout(tick, this.#heartbeatMs);
  }

  /**
   * Ends the current subscription as if it were lost (`connected(false)`: the local copy is
   * flushed and bypassed) and subscribes again at once: for when what the copy holds may no longer
   * be what the store holds although no invalidation says so (a Redis Cluster failover). Nothing to
   * do while not subscribed: the copy is already bypassed.
   */
  protected resubscribe(): void {
    this.#abort?.abort();
  }

  /** A payload heard on the channel (while subscribed). */
  protected receive(payload: string): void {
    let wire: Wire;
    try {
      wire = JSON.parse(payload) as Wire;
    } catch {
      return; // not ours
    }
    if (!wire || typeof wire !== "object" || wire.v !== 1) return;
    if (wire.id === this.#id) {
      if (typeof wire.ping === "number" && wire.ping > this.#pingHeard) this.#pingHeard = wire.ping;
      return;
    }
    let message: Invalidation | undefined;
    if (wire.all === true) message = { all: true };
    else if (Array.isArray(wire.keys)) message = { keys: wire.keys.filter((key) => typeof key === "string") };
    if (!message) return; // someone else's ping
    try {
      this.#listener?.invalidate(message);
    } catch (error) {
      this.report(error);
    }
  }
}
