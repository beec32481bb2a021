/**
 * The invalidation bus of a local tier over Upstash (issue 16): `PUBLISH` over REST, batched per
 * tick, and the REST server-sent-events subscription `@upstash/redis` uses (`redis.subscribe()`);
 * batching, retries, reconnection and the heartbeat are the channel bus's (local/channel-bus.ts).
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
import { withDeadline } from "../deadlines.js";
import type { Bus } from "../local/bus.js";
import { ChannelBus, invalidationChannel, type ChannelBusOptions } from "../local/channel-bus.js";

export { invalidationChannel };

/** The part of an `@upstash/redis` client the bus publishes with. */
export interface BusPublisher {
  publish(channel: string, message: string): Promise<unknown>;
}

export interface UpstashBusOptions extends ChannelBusOptions {
  /** REST URL, e.g. `https://<db>.upstash.io` (no trailing slash needed). */
  url: string;
  token: string;
  /** Channel name: use `invalidationChannel(namespace)`. Only `[A-Za-z0-9_.:-]`. */
  channel: string;
  /** Publish through this client (e.g. the backend's `@upstash/redis` instance) instead of a plain `fetch`. */
  client?: BusPublisher;
  /** A subscription not confirmed within this is abandoned and tried again; default 5000 ms. */
  confirmTimeoutMs?: number;
  /** A PUBLISH request not answered within this counts as failed; default 5000 ms. */
  publishTimeoutMs?: number;
  /** Injected `fetch` (tests); default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

const SAFE = /^[A-Za-z0-9_.:-]+$/;
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

class UpstashBus extends ChannelBus {
  readonly #url: string;
  readonly #token: string;
  readonly #channel: string;
  readonly #fetch: typeof fetch;
  readonly #options: UpstashBusOptions;

  constructor(options: UpstashBusOptions) {
    if (!SAFE.test(options.channel)) {
      throw new TypeError(`upstash bus: channel ${JSON.stringify(options.channel)} must match [A-Za-z0-9_.:-]+ (use invalidationChannel())`);
    }
    super(options);
    this.#options = options;
    this.#url = options.url.replace(/\/+$/, "");
    this.#token = options.token;
    this.#channel = options.channel;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  protected async send(payload: string): Promise<void> {
    const timeoutMs = this.#options.publishTimeoutMs ?? 5000;
    if (this.#options.client) {
      await withDeadline(this.#options.client.publish(this.#channel, payload), timeoutMs, () => new Error("upstash bus: PUBLISH timed out"));
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

  /** One subscription, from the request to the end of its stream (returns or throws when it is gone). */
  protected async subscribeOnce(signal: AbortSignal, onConfirmed: () => void): Promise<void> {
    let confirmed = false;
    const abort = new AbortController();
    const stop = () => abort.abort();
    signal.addEventListener("abort", stop);
    const confirmTimer = setTimeout(() => confirmed || abort.abort(), this.#options.confirmTimeoutMs ?? 5000);
    try {
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
            } else if (confirmed && data.startsWith(messagePrefix)) {
              this.receive(data.slice(messagePrefix.length));
            }
          }
        }
      } finally {
        reader.cancel().catch(() => {});
      }
    } catch (error) {
      if (!isAbort(error)) throw error;
    } finally {
      clearTimeout(confirmTimer);
      signal.removeEventListener("abort", stop);
      abort.abort();
    }
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}
