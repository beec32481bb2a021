/**
 * The invalidation bus of a local tier on Redis Cluster (`local` on `redis+cluster://`), where
 * Redis tracking (the single node's coherence, client-side.ts) would be per node: `PUBLISH` on the
 * namespace's channel through the backend's own cluster connection, and one subscriber connection
 * (RESP2) to a node of the cluster. Redis Cluster forwards every PUBLISH to every node, so one
 * node hears them all; when its connection closes, or the heartbeat's ping does not come back, the
 * bus reports the loss and subscribes on the next node; so it does when the backend's cluster
 * connection loses a master (a failover: what the copy holds may be gone from the new master). Batching, retries, back-off and the
 * heartbeat are the channel bus's (local/channel-bus.ts).
 * @internal
 * @module
 */
import { Redis, type RedisOptions } from "ioredis";
import { ChannelBus, invalidationChannel, type ChannelBusOptions } from "../local/channel-bus.js";

export { invalidationChannel };

/** What a Redis bus needs besides the channel bus's settings. */
export interface RedisBusOptions extends ChannelBusOptions {
  /** The channel: `invalidationChannel(namespace)`. */
  channel: string;
  /** Publishes `message` on `channel` (through the backend's connection, bounded by its timeout). */
  publish(channel: string, message: string): Promise<unknown>;
  /** The nodes a subscriber may use, tried in turn (the cluster's nodes, or its seeds). */
  nodes(): ReadonlyArray<{ host: string; port: number }>;
  /** Options of the subscriber connection (credentials, TLS); host, port and db are set here. */
  redisOptions: RedisOptions;
  /** Bound (ms) on connecting and subscribing. */
  timeout: number;
  /**
   * Registers a listener told when the cluster connection loses a master (a failover may follow,
   * and the new master may lack the old one's last writes): the bus then resubscribes, which
   * flushes the local copy.
   */
  onMasterLost?(listener: () => void): void;
}

/** The bus over Redis pub/sub (see the module comment). */
export class RedisBus extends ChannelBus {
  readonly #options: RedisBusOptions;
  /** The next node to subscribe on (round robin over `nodes()`). */
  #next = 0;

  constructor(options: RedisBusOptions) {
    super(options);
    this.#options = options;
    options.onMasterLost?.(() => this.resubscribe());
  }

  protected async send(payload: string): Promise<void> {
    await this.#options.publish(this.#options.channel, payload);
  }

  protected subscribeOnce(signal: AbortSignal, confirmed: () => void): Promise<void> {
    const { channel, timeout } = this.#options;
    const nodes = this.#options.nodes();
    if (nodes.length === 0) return Promise.reject(new Error("redis bus: no node to subscribe on"));
    const node = nodes[this.#next++ % nodes.length]!;
    const client = new Redis({
      ...this.#options.redisOptions,
      host: node.host,
      port: node.port,
      db: 0,
      // RESP2 (ioredis 6 in RESP3 drops pushes); one connection per subscription: on any loss the
      // bus reports it and subscribes again (possibly on another node), ioredis does not retry.
      protocol: 2,
      autoResubscribe: false,
      lazyConnect: true,
      enableOfflineQueue: true,
      retryStrategy: () => null,
      connectTimeout: timeout,
    } as RedisOptions);
    return new Promise<void>((resolve, reject) => {
      let done = false;
      let lastError: unknown;
      const timer = setTimeout(() => finish(new Error(`redis bus: not subscribed on ${node.host}:${node.port} within ${timeout} ms`)), timeout);
      const finish = (error?: unknown): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        client.removeAllListeners();
        client.on("error", () => {});
        client.disconnect();
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = (): void => finish();
      signal.addEventListener("abort", onAbort);
      client.on("error", (error: unknown) => (lastError = error));
      client.on("close", () => finish(new Error(`redis bus: the subscriber connection to ${node.host}:${node.port} closed`, { cause: lastError })));
      client.on("message", (from: string, message: string) => {
        if (from === channel) this.receive(message);
      });
      client
        .connect()
        .then(() => client.subscribe(channel))
        .then(
          () => {
            clearTimeout(timer);
            if (!done) confirmed();
          },
          (error: unknown) => finish(error),
        );
    });
  }
}
