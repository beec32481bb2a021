/**
 * The invalidation bus of a local tier over Upstash (issue 16): `PUBLISH` over REST, batched per
 * tick, and the REST server-sent-events subscription `@upstash/redis` uses (`redis.subscribe()`).
 *
 * The subscription is read here with `fetch`, on the exact wire protocol of the client's
 * `SubscribeCommand` (`POST <url>/subscribe/<channel>`, `Accept: text/event-stream`, body `[]`;
 * `data: subscribe,<channel>,<count>` and `data: message,<channel>,<payload>` lines), because the
 * client's `Subscriber` never reports a stream that ends or breaks: it only `console.error`s, so a
 * dropped subscription would go unnoticed and the local tier would serve stale copies. Here the end
 * of the stream, an error, a missing confirmation and (optionally) a silent stream are all seen:
 * `connected(false)`, then a new subscription with back-off, `connected(true)` once confirmed.
 *
 * Runs wherever `fetch`, `TextDecoder`, `AbortController` and `crypto.randomUUID` exist (Node 18+,
 * Bun, Deno, Workers): no `node:*` imports, no `Buffer`.
 * @internal
 * @module
 */
import { CacheConfigError } from "../../errors.js";
import type { Bus, BusListener, Invalidation } from "../local/bus.js";

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

/** The part of an `@upstash/redis` client the bus publishes with. */
export interface BusPublisher {
  publish(channel: string, message: string): Promise<unknown>;
}

export interface UpstashBusOptions {
  /** REST URL, e.g. `https://<db>.upstash.io` (no trailing slash needed). */
  url: string;
  token: string;
  /** Channel name: use `invalidationChannel(namespace)`. Only `[A-Za-z0-9_.:-]`. */
  channel: string;
  /** Publish through this client (e.g. the backend's `@upstash/redis` instance) instead of a plain `fetch`. */
  client?: BusPublisher;
  /** Above this many keys in one tick a single `all` is published instead; default 1000. */
  maxKeys?: number;
  /** A subscription not confirmed within this is abandoned and tried again; default 5000 ms. */
  confirmTimeoutMs?: number;
  /**
   * Liveness probe: every `heartbeatMs` the instance publishes a ping and expects to hear it back
   * within `heartbeatMs`, or the subscription counts as lost (a silent, half-open stream). 0 = off
   * (default 15 000).
   */
  heartbeatMs?: number;
  /** Back-off before subscribing again after attempt `n` (0-based); default 50·2ⁿ ms up to 2 s, jittered. */
  backoff?: (attempt: number) => number;
  /** A PUBLISH request not answered within this counts as failed; default 5000 ms. */
  publishTimeoutMs?: number;
  /** Failed publishes and unexpected stream errors (for logs); default: ignored. */
  onError?: (error: unknown) => void;
  /** Injected `fetch` (tests); default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

const SAFE = /^[A-Za-z0-9_.:-]+$/;
/** Above this a batch of keys is published as `all`. */
const MAX_PAYLOAD_CHARS = 64 * 1024;

/**
 * The invalidation channel of a namespace: `cashews:<namespace>:invalidate`, with every character
 * outside `[A-Za-z0-9.:-]` (and `_`) written `_xx` (hex), so the name is safe in a URL path and has
 * no comma (the SSE lines are comma-separated), and different namespaces never share a channel.
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

export function createUpstashBus(options: UpstashBusOptions): Bus {
  return new UpstashBus(options);
}

/**
 * The bus of an `upstash://` backend: its namespace's channel, the REST URL and token of its
 * `@upstash/redis` client (ours, or the one the user supplied), and PUBLISH through that client (so
 * it shares the backend's retries, timeout and auto-pipelining).
 * @throws {CacheConfigError} The client does not expose its URL and token (not an @upstash/redis client).
 * @example
 * const bus = createUpstashBusFor(backend); // backend: UpstashBackend
 */
export function createUpstashBusFor(
  backend: { readonly namespace: string; readonly client: unknown },
  options: Omit<Partial<UpstashBusOptions>, "url" | "token" | "channel"> = {},
): Bus {
  const endpoint = endpointOf(backend.client);
  if (!endpoint) {
    throw new CacheConfigError("upstash: the local tier needs the REST URL and token of the @upstash/redis client, which this client does not expose");
  }
  return new UpstashBus({
    client: backend.client as BusPublisher,
    ...options,
    ...endpoint,
    channel: invalidationChannel(backend.namespace),
  });
}

/** `redis.client` is @upstash/redis's HttpClient: `baseUrl` and `headers.authorization: "Bearer <token>"`. */
function endpointOf(redis: unknown): { url: string; token: string } | undefined {
  const http = (redis as { client?: { baseUrl?: unknown; headers?: Record<string, unknown> } } | null)?.client;
  const url = http?.baseUrl;
  const auth = http?.headers?.authorization;
  if (typeof url !== "string" || url === "" || typeof auth !== "string") return undefined;
  const token = /^Bearer (.+)$/.exec(auth)?.[1];
  return token ? { url, token } : undefined;
}

class UpstashBus implements Bus {
  readonly #url: string;
  readonly #token: string;
  readonly #channel: string;
  readonly #id = globalThis.crypto.randomUUID();
  readonly #fetch: typeof fetch;
  readonly #options: UpstashBusOptions;
  readonly #maxKeys: number;
  readonly #heartbeatMs: number;

  #listener: BusListener | undefined;
  #closed = false;
  #up = false;
  #loop: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #wake: (() => void) | undefined;

  // Publishing: what the current tick collected, and the request in flight.
  #pendingKeys = new Set<string>();
  #pendingAll = false;
  #scheduled: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> = Promise.resolve();

  // Heartbeat.
  #pingSeq = 0;
  #pingHeard = 0;

  constructor(options: UpstashBusOptions) {
    if (!SAFE.test(options.channel)) {
      throw new TypeError(`upstash bus: channel ${JSON.stringify(options.channel)} must match [A-Za-z0-9_.:-]+ (use invalidationChannel())`);
    }
    this.#options = options;
    this.#url = options.url.replace(/\/+$/, "");
    this.#token = options.token;
    this.#channel = options.channel;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#maxKeys = options.maxKeys ?? 1000;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  /** This instance's id (what its messages carry). */
  get id(): string {
    return this.#id;
  }

  start(listener: BusListener): Promise<void> {
    if (this.#listener) throw new Error("upstash bus: already started");
    if (this.#closed) throw new Error("upstash bus: closed");
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
    // One PUBLISH per tick: everything published before the timer fires goes out together.
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

  #flushPublishes(): void {
    if (!this.#pendingAll && this.#pendingKeys.size === 0) return;
    const wire: Wire = this.#pendingAll
      ? { v: 1, id: this.#id, all: true }
      : { v: 1, id: this.#id, keys: [...this.#pendingKeys] };
    this.#pendingAll = false;
    this.#pendingKeys = new Set();
    let payload = JSON.stringify(wire);
    // Long keys: stay well under Upstash's request size and the 1 MiB SSE line readers accept.
    if (payload.length > MAX_PAYLOAD_CHARS) payload = JSON.stringify({ v: 1, id: this.#id, all: true } satisfies Wire);
    // Publishes go out in order (a later `all` never overtakes earlier keys, nor the reverse).
    this.#inFlight = this.#inFlight.then(() => this.#sendWithRetry(payload));
  }

  /**
   * Retries a failed PUBLISH twice; if it still fails the invalidation is not dropped: an `all` is
   * owed and retried with back-off (merged with later publishes) until one goes through, or close().
   */
  async #sendWithRetry(payload: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#send(payload);
        return;
      } catch (error) {
        if (this.#closed) {
          this.#options.onError?.(error);
          return;
        }
        if (attempt >= 2) {
          this.#options.onError?.(error);
          payload = JSON.stringify({ v: 1, id: this.#id, all: true } satisfies Wire);
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

  async #send(payload: string): Promise<void> {
    const timeoutMs = this.#options.publishTimeoutMs ?? 5000;
    if (this.#options.client) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          this.#options.client.publish(this.#channel, payload),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error("upstash bus: PUBLISH timed out")), timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
      return;
    }
    const res = await this.#fetch(this.#url, {
      method: "POST",
      headers: { authorization: `Bearer ${this.#token}`, "content-type": "application/json" },
      body: JSON.stringify(["PUBLISH", this.#channel, payload]),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`upstash bus: PUBLISH failed (${res.status}): ${text}`);
  }

  // --- subscribing ------------------------------------------------------------------------------

  #setUp(up: boolean): void {
    if (this.#up === up) return;
    this.#up = up;
    try {
      this.#listener?.connected(up);
    } catch (error) {
      this.#options.onError?.(error);
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
      try {
        await this.#subscribeOnce(() => {
          confirmedAt = Date.now();
          this.#setUp(true);
          settled();
        });
      } catch (error) {
        if (!this.#closed && !isAbort(error)) this.#options.onError?.(error);
      }
      this.#setUp(false);
      settled();
      if (this.#closed) break;
      // A stream that lived a while is resumed at once; one that keeps failing, or dropping right
      // after its confirmation, backs off.
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

  /** One subscription, from the request to the end of its stream (returns or throws when it is gone). */
  async #subscribeOnce(onConfirmed: () => void): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    const timers: ReturnType<typeof setTimeout>[] = [];
    let confirmed = false;
    try {
      timers.push(setTimeout(() => confirmed || abort.abort(), this.#options.confirmTimeoutMs ?? 5000));
      // As @upstash/redis's SubscribeCommand: `[baseUrl, "subscribe", channel].join("/")`, body `[]`.
      const res = await this.#fetch(`${this.#url}/subscribe/${this.#channel}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.#token}`,
          "content-type": "application/json",
          accept: "text/event-stream",
          "cache-control": "no-cache",
        },
        body: "[]",
        signal: abort.signal,
      });
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => "");
        throw new Error(`upstash bus: subscribe failed (${res.status}): ${text}`);
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      const confirmPrefix = `subscribe,${this.#channel},`;
      const messagePrefix = `message,${this.#channel},`;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return; // the server ended the stream
          buffer += decoder.decode(value, { stream: true });
          const lines = buffer.split("\n");
          buffer = lines.pop() ?? "";
          if (buffer.length > 1 << 20) throw new Error("upstash bus: SSE line above 1 MiB");
          for (const raw of lines) {
            const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
            if (!line.startsWith("data: ")) continue; // blank lines, `:` comments (keep-alive)
            const data = line.slice(6);
            if (!confirmed && data.startsWith(confirmPrefix)) {
              confirmed = true;
              onConfirmed();
              if (this.#heartbeatMs > 0) this.#startHeartbeat(abort, timers);
            } else if (confirmed && data.startsWith(messagePrefix)) {
              this.#receive(data.slice(messagePrefix.length));
            }
          }
        }
      } finally {
        reader.cancel().catch(() => {});
      }
    } finally {
      for (const timer of timers) clearTimeout(timer);
      abort.abort();
      if (this.#abort === abort) this.#abort = undefined;
    }
  }

  /** Every heartbeatMs: check the last ping came back, then send the next one. */
  #startHeartbeat(abort: AbortController, timers: ReturnType<typeof setTimeout>[]): void {
    const seqAtStart = this.#pingSeq;
    this.#pingHeard = seqAtStart;
    const tick = () => {
      if (abort.signal.aborted || this.#closed) return;
      if (this.#pingSeq !== seqAtStart && this.#pingHeard !== this.#pingSeq) {
        abort.abort(); // the last ping never came back: the stream is silent
        return;
      }
      const seq = ++this.#pingSeq;
      this.#send(JSON.stringify({ v: 1, id: this.#id, ping: seq } satisfies Wire)).catch(() => {});
      // One heartbeat timer at a time (the list is cleared only when the subscription ends).
      timers[slot] = setTimeout(tick, this.#heartbeatMs);
    };
    const slot = timers.push(setTimeout(tick, this.#heartbeatMs)) - 1;
  }

  #receive(payload: string): void {
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
      this.#options.onError?.(error);
    }
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}
