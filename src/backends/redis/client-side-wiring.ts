/**
 * `clientSide` in one Redis backend: its local copy and its invalidation connection (see
 * client-side.ts), which starts with the data connection, follows it to another node after a
 * failover and stops on `close()`; and the fills, which read each value with its TTL.
 * @internal
 * @module
 */
import { Redis } from "ioredis";
import { messageOf } from "../../errors.js";
import type { Namespace } from "../namespace.js";
import { evalScript, exec, type RedisClient } from "./cluster.js";
import { Tracker } from "./client-side.js";
import { GET_WITH_TTL } from "../scripts.js";
import { LocalCopy } from "../local/copy.js";
import { DEFAULT_TIMEOUT_MS, type RedisSettings } from "./options.js";

/** The clientSide state of a backend (absent without clientSide). */
export class ClientSide {
  /** The local copy of what this process read. */
  readonly local: LocalCopy;
  readonly #ns: Namespace;
  readonly #settings: RedisSettings;
  /** The invalidation connection (created with the data connection). */
  #tracker: Tracker | undefined;
  /** Why tracking is off for good (the server refused it; reset by the next tracker). */
  #off: string | undefined;
  /** Set once EVALSHA was refused (an ACL without scripting): fills use MULTI. */
  #noScripts = false;

  /** `local`: the common `local` option's size, ttl and grace (defaults: 10 000 entries, 300 s, none). */
  constructor(ns: Namespace, settings: RedisSettings, local?: { size: number; ttl: number; grace?: number }) {
    this.local = new LocalCopy(local?.size, local?.ttl, local?.grace);
    this.#ns = ns;
    this.#settings = settings;
  }

  /** The invalidation connection, while there is one. */
  get tracker(): Tracker | undefined {
    return this.#tracker;
  }

  /** A data connection was created: creates the invalidation connection, unless there is one. */
  start(): void {
    if (this.#tracker !== undefined) return;
    const ns = this.#ns;
    this.#off = undefined;
    this.#tracker = new Tracker(this.local, {
      redisOptions: this.#settings.redisOptions!,
      prefix: ns.prefix,
      userKey: (stored) => (stored.startsWith(ns.prefix) ? stored.slice(ns.prefix.length) : undefined),
      timeout: this.#settings.timeout ?? DEFAULT_TIMEOUT_MS,
      onError: this.#settings.report,
      onOff: (why) => (this.#off = why),
    });
    this.#tracker.start(Redis);
  }

  /**
   * The data connection came back, possibly to another node (a failover): move the invalidation
   * connection too, so both watch the same server (it re-arms and flushes).
   */
  reconnect(): void {
    this.#tracker?.reconnect();
  }

  /** Stops the invalidation connection (`close()`). */
  stop(): void {
    this.#tracker?.stop();
    this.#tracker = undefined;
  }

  /** See `RedisBackend.clientSideState`. */
  state(): { armed: boolean; size: number; off?: string } {
    const local = this.local;
    const off = this.#off;
    return off === undefined ? { armed: local.armed, size: local.size } : { armed: local.armed, size: local.size, off };
  }

  /** Fills: values and PTTLs as `[v1, pttl1, …]`; by script, or MULTI where scripts are refused (ACL). */
  async readWithTtl(client: RedisClient, keys: string[]): Promise<unknown[]> {
    if (!this.#noScripts) {
      try {
        return (await evalScript(client, GET_WITH_TTL, keys)) as unknown[];
      } catch (error) {
        if (!/^(?:NOPERM|ERR unknown command)/.test(messageOf(error))) throw error;
        this.#noScripts = true;
      }
    }
    const multi = client.multi().mget(keys);
    for (const key of keys) multi.pttl(key);
    const results = await exec(multi);
    const values = results[0]![1] as unknown[];
    const pairs: unknown[] = new Array(keys.length * 2);
    for (let i = 0; i < keys.length; i++) {
      pairs[2 * i] = values[i];
      pairs[2 * i + 1] = results[i + 1]![1];
    }
    return pairs;
  }
}
