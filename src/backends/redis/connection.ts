/**
 * The Redis backend's connection: the lifecycle of its ioredis client, and the bounds and health
 * of the commands sent on it (and on its limit lane, see lane.ts, which follows that client).
 *
 * "Safe" by construction:
 * - the ioredis client is created in `init()` or on the first command (setup does no I/O), with
 *   the offline queue off, no retries per request, no resending of unfulfilled commands (a
 *   rejected `incr` must not be applied later), and a capped back-off that keeps reconnecting in
 *   the background;
 * - a command issued while the first connection is being made waits for it; a command issued
 *   while the server is known to be unreachable (between reconnect attempts) fails at once;
 * - every command, waiting included, is bounded by `timeout` (default 500 ms);
 * - a command that times out makes the backend "unresponsive" (a hung server: connected but
 *   silent): the commands still pending and every further one fail at once, until a background
 *   PING (bounded by `timeout`, retried with back-off up to 1 s) answers or a new connection is
 *   ready. A call that makes several commands in a row thus pays at most one timeout.
 * @internal
 * @module
 */
import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { CacheBackendError, CacheConfigError, messageOf } from "../../errors.js";
import { Deadlines, Responsiveness, withDeadline } from "../deadlines.js";
import type { LuaScript } from "../scripts.js";
import { createCluster, evalScript, masters, type RedisClient } from "./cluster.js";
import { isReplyError, Lane } from "./lane.js";
import type { ClientSide } from "./client-side-wiring.js";
import {
  DEFAULT_TIMEOUT_MS,
  DISCONNECT_TIMEOUT_MS,
  MAX_RECONNECT_DELAY_MS,
  reconnectDelay,
  type RedisSettings,
} from "./options.js";

/** How long `close()` waits for `QUIT` before dropping the socket. */
const QUIT_TIMEOUT_MS = 1000;

type Status = RedisClient["status"];

interface Waiter {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

const noop = (): void => {};

/**
 * The connection of one Redis backend: its ioredis client (ours, made on first use, or the
 * supplied one), every command bounded by `timeout`, and the server taken for unresponsive after a
 * timeout until a probe answers.
 */
export class Connection {
  readonly #timeout: number | undefined;
  readonly #connectTimeout: number;
  readonly #redisOptions: RedisOptions | undefined;
  /** Redis Cluster: the seed nodes (undefined: a single node). */
  readonly #seeds: { host: string; port: number }[] | undefined;
  readonly #userClient: RedisClient | undefined;
  /** Hands an error to the `onError` listener, if any. */
  readonly #reportError: (error: Error) => void;
  readonly #description: string;

  #client: RedisClient | undefined;
  #detach: (() => void) | undefined;
  #lastError: Error | undefined;
  /** Settled by the next `ready` (resolve) or `close`/`end` (reject) of the current client. */
  #waiter: Waiter | undefined;
  /** Bounds every command by `timeout` with one timer (undefined: no timeout). */
  readonly #deadlines: Deadlines | undefined;
  /** Down after a timeout: commands fail fast until a probe answers (never down without a timeout). */
  readonly #health: Responsiveness;
  /** clientSide: the invalidation connection follows this one (see client-side-wiring.ts). */
  readonly #clientSide: ClientSide | undefined;
  /** Told when a Cluster loses the connection to a master (see {@link onMasterLost}). */
  readonly #masterLost = new Set<() => void>();
  /** The lean connection of the LIMIT scripts (see lane.ts): our own single-node, plain-TCP connection only. */
  readonly #lane: Lane | undefined;

  constructor(settings: RedisSettings, clientSide: ClientSide | undefined) {
    this.#clientSide = clientSide;
    this.#timeout = settings.timeout;
    this.#connectTimeout = settings.connectTimeout;
    this.#reportError = settings.report;
    this.#userClient = settings.userClient;
    this.#redisOptions = settings.redisOptions;
    this.#seeds = settings.seeds;
    this.#description = settings.description;
    const own = settings.redisOptions;
    if (own !== undefined && settings.seeds === undefined && own.tls === undefined) {
      this.#lane = new Lane({
        // The address our client's socket is connected to: the lane follows it (a name that
        // resolves to several hosts, a failover behind one name).
        where: () => {
          const stream = (this.#client as Redis | undefined)?.stream;
          if (stream?.remoteAddress === undefined || stream.remotePort === undefined) return undefined;
          return { host: stream.remoteAddress, port: stream.remotePort };
        },
        db: own.db ?? 0,
        username: own.username,
        password: own.password,
        connectTimeout: settings.connectTimeout,
        onRefused: (error) => this.#reportError(error),
      });
    }
    const timeout = this.#timeout;
    this.#deadlines =
      timeout === undefined
        ? undefined
        : new Deadlines(
            timeout,
            () => new Error(`timed out after ${timeout} ms`),
            (error) => this.#timedOut(error),
          );
    this.#health = new Responsiveness({
      name: this.#description,
      ms: timeout ?? 0,
      background: true, // Node, Bun, Deno: unref'd timers
      // On a cluster every master must answer (a random node answering says nothing of the others).
      probe: () => this.#exec("PING", (c) => Promise.all(masters(c).map((node) => node.ping()))),
      onDown: (error) => this.#reportError(error),
    });
  }

  /** The current client (undefined before the first command, and after `close()`). */
  get client(): RedisClient | undefined {
    return this.#client;
  }

  /** Bounds every command by `timeout` with one timer (undefined: no timeout). */
  get deadlines(): Deadlines | undefined {
    return this.#deadlines;
  }

  /** Down after a timeout: commands fail fast until a probe answers (never down without a timeout). */
  get health(): Responsiveness {
    return this.#health;
  }

  /**
   * Calls `listener` whenever a Cluster drops its connection to a master (the node died, or left
   * the slot map): a failover may follow, and writes the old master acknowledged may be missing on
   * the promoted replica (replication is asynchronous), so a local copy must not outlive it.
   */
  onMasterLost(listener: () => void): void {
    this.#masterLost.add(listener);
  }

  /** Connects (once; concurrent calls share the attempt): see `RedisBackend.init`. */
  async init(): Promise<void> {
    const client = this.#ensureClient();
    const bound = this.#connectTimeout + MAX_RECONNECT_DELAY_MS + (this.#timeout ?? DEFAULT_TIMEOUT_MS);
    if (client.status !== "ready") {
      try {
        await withDeadline(this.#whenReady(client, false), bound, () => new Error(`no connection after ${bound} ms`));
      } catch (error) {
        throw new CacheBackendError(`redis: could not connect to ${this.#description}: ${messageOf(error)}`, {
          cause: error,
        });
      }
    }
    // clientSide: wait (bounded) for invalidations to be armed, so the local copy is in use from
    // the first read. Not armed in time: reads go to Redis until it is (never an error).
    const tracker = this.#clientSide?.tracker;
    if (tracker !== undefined) await withDeadline(tracker.armed, bound, () => new Error("not armed")).catch(noop);
  }

  /** Disconnects (a supplied client is left open) and drops every listener and timer: see `RedisBackend.close`. */
  async close(): Promise<void> {
    const client = this.#client;
    const lane = this.#lane?.close();
    if (!client) return;
    this.#client = undefined;
    this.#clientSide?.stop();
    // What is in flight keeps its bound (#deadlines is not stopped): our own connection is quit or
    // dropped below, which settles it; a supplied client stays open, and a server that stopped
    // answering would otherwise hold those calls forever. The unref'd timer stops by itself once
    // nothing is pending.
    const unresponsive = this.#health.down;
    this.#health.stop();
    this.#detach?.();
    this.#detach = undefined;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(new Error("the backend was closed"));
    await lane; // its calls in flight answered (or given up), like those QUIT lets finish below
    if (client === this.#userClient) return;
    client.on("error", noop); // late socket errors while closing must not be reported as unhandled
    // A server that does not answer would not answer QUIT either: just drop the socket.
    if (client.status === "ready" && !unresponsive) {
      await withDeadline(client.quit(), QUIT_TIMEOUT_MS, () => new Error("QUIT timed out")).catch(noop);
    }
    // Also clears a pending reconnect timer. (ioredis then waits `disconnectTimeout` for the
    // socket's "close", which a dead socket never emits again: hence the short DISCONNECT_TIMEOUT_MS.)
    if (client.status !== "end") client.disconnect();
  }

  /**
   * The client when a command can be written at once (connected, and the server answers), else
   * undefined: the caller then takes the general way ({@link send}). What the solo GET
   * (batching.ts) and {@link nowScript} ask before writing without a frame of ours.
   */
  get writable(): RedisClient | undefined {
    const client = this.#client;
    return client !== undefined && client.status === "ready" && !this.#health.down ? client : undefined;
  }

  /**
   * Runs one script at once when the connection is {@link writable}, under the shared deadline,
   * else answers undefined. With no frame of ours: the LIMIT scripts, lone calls' and a tick's, on
   * the limit lane once it is ready (see lane.ts), else on the client.
   */
  nowScript(command: string, script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> | undefined {
    const client = this.writable;
    if (client === undefined) return undefined;
    const lane = this.#lane !== undefined && this.#lane.usable() ? this.#lane : undefined;
    const sent = lane !== undefined ? lane.script(script, keys, args) : evalScript(client, script, keys, args);
    // One hop: the deadline and the error's wrapping share it.
    if (this.#deadlines === undefined) return sent.catch((error: unknown) => Promise.reject(this.#failed(lane, command, error)));
    return this.#deadlines.bound(sent, (error) => this.#failed(lane, command, error));
  }

  /**
   * The error of a script sent by {@link nowScript}; a lane that did not answer (a timeout, a
   * loss) is dropped: the next calls go through ioredis.
   */
  #failed(lane: Lane | undefined, command: string, error: unknown): unknown {
    if (lane !== undefined && !isReplyError(error)) lane.drop(`given up: ${messageOf(error)}`);
    return backendError(command, error);
  }

  /** Runs one round trip, or fails at once while the server is unresponsive. */
  send<T>(command: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    if (this.#health.down) return Promise.reject(this.refused(command));
    return this.#exec(command, fn);
  }

  /** Runs one round trip once the client is ready; the wait and the command share one `timeout`. */
  async #exec<T>(command: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      const client = this.#ensureClient();
      if (client.status === "ready") {
        // One shared timer bounds every command (see Deadlines), ours or a supplied client's.
        return await (this.#deadlines === undefined ? fn(client) : this.#deadlines.bound(fn(client)));
      }
      const attempt = this.#whenReady(client, true).then(() => fn(client));
      if (this.#timeout === undefined) return await attempt;
      return await withDeadline(attempt, this.#timeout, () => {
        const error = new Error(`timed out after ${this.#timeout} ms`);
        this.#timedOut(error);
        return error;
      });
    } catch (error) {
      throw backendError(command, error);
    }
  }

  /**
   * Resolves when `client` is ready. Starts the connection of a lazy client. While a connection
   * attempt is under way it waits for its outcome; between attempts (the server is known to be
   * down) a command (`failFast`) is refused at once, while `init()` waits for the next attempt.
   */
  #whenReady(client: RedisClient, failFast: boolean): Promise<void> {
    const status: Status = client.status;
    switch (status) {
      case "ready":
        return Promise.resolve();
      case "wait": {
        const waiter = this.#nextConnectionEvent();
        client.connect().catch(noop); // the outcome arrives as events
        return waiter;
      }
      case "connecting":
      case "connect":
        return this.#nextConnectionEvent();
      case "reconnecting":
      case "close":
        if (failFast) return Promise.reject(this.#unreachable(status));
        return this.#nextConnectionEvent();
      default:
        // "end" (a supplied client that was closed), "monitoring", …
        return Promise.reject(new Error(`${this.#description} is not usable (status "${status}")`));
    }
  }

  /**
   * A command timed out: the server is taken for unresponsive (once), and the commands still
   * waiting for it fail now rather than each at its own deadline.
   */
  #timedOut(error: Error): void {
    if (this.#client === undefined) return; // closed: the expiry only releases the callers, nothing to probe
    if (this.#health.markDown(error)) this.#deadlines?.expireAll(new Error(this.#health.reason, { cause: error }));
  }

  /** The error of `command` refused while the server is unresponsive. */
  refused(command: string): CacheBackendError {
    return new CacheBackendError(`redis ${command}: ${this.#health.refuse()}`, { cause: this.#health.cause });
  }

  #unreachable(status: string): Error {
    const reason = this.#lastError ? ` (${this.#lastError.message})` : "";
    return new Error(`${this.#description} is unreachable${reason}; reconnecting in the background (status "${status}")`, {
      cause: this.#lastError,
    });
  }

  #nextConnectionEvent(): Promise<void> {
    if (!this.#waiter) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((yes, no) => {
        resolve = yes;
        reject = no;
      });
      promise.catch(noop); // a waiter nobody awaits any more must not be an unhandled rejection
      this.#waiter = { promise, resolve, reject };
    }
    return this.#waiter.promise;
  }

  #settle(error: Error | undefined): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    this.#waiter = undefined;
    if (error) waiter.reject(error);
    else waiter.resolve();
  }

  /** Our own client: a lazy single-node client, or a lazy Cluster on the seed nodes. */
  #newClient(): RedisClient {
    const options = this.#redisOptions!;
    if (this.#seeds === undefined) return new Redis(options);
    return createCluster(this.#seeds, {
      username: options.username,
      password: options.password,
      tls: options.tls !== undefined,
      connectTimeout: this.#connectTimeout,
      disconnectTimeout: DISCONNECT_TIMEOUT_MS,
      reconnectDelay,
    });
  }

  #ensureClient(): RedisClient {
    let client = this.#client;
    if (client && client.status === "end" && client !== this.#userClient) {
      // Our own client never ends by itself (the retry strategy always retries); be robust anyway.
      this.#detach?.();
      client = undefined;
    }
    if (client) return client;
    client = this.#userClient ?? this.#newClient();
    this.#clientSide?.start();
    const onError = (error: Error): void => {
      this.#lastError = error;
      this.#reportError(error);
    };
    let readies = 0;
    const onReady = (): void => {
      this.#lastError = undefined;
      this.#health.markUp(); // a new connection answered its ready check
      this.#settle(undefined);
      // clientSide: the invalidation connection follows the data connection (see ClientSide.reconnect).
      if (++readies > 1) this.#clientSide?.reconnect();
    };
    const onClose = (): void => {
      this.#lane?.drop("the backend's connection was lost"); // made again to where the client reconnects
      this.#clientSide?.local.expireAll(); // what was read on a lost connection is not trusted any more (grace aside)
      this.#settle(this.#lastError ?? new Error("connection closed"));
    };
    client.on("error", onError);
    client.on("ready", onReady);
    client.on("close", onClose);
    client.on("end", onClose);
    client.on("node error", onError); // a Cluster's errors on one node
    // A Cluster removed a node from its pool (its connection ended): tell the listeners if it was a master.
    const onNodeRemoved = (node: { options?: { readOnly?: boolean } } | undefined): void => {
      if (node?.options?.readOnly === true) return;
      for (const listener of this.#masterLost) listener();
    };
    client.on("-node", onNodeRemoved);
    this.#detach = () => {
      client.off("-node", onNodeRemoved);
      client.off("node error", onError);
      client.off("error", onError);
      client.off("ready", onReady);
      client.off("close", onClose);
      client.off("end", onClose);
    };
    this.#client = client;
    return client;
  }
}

/** `error` as the {@link CacheBackendError} of `command` (configuration and backend errors as they are). */
export function backendError(command: string, error: unknown): unknown {
  if (error instanceof CacheBackendError || error instanceof CacheConfigError) return error;
  return new CacheBackendError(`redis ${command}: ${messageOf(error)}`, { cause: error });
}
