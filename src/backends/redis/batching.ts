/**
 * GET batching of the Redis backend. The GETs issued in one tick are sent together as one MGET (a
 * single GET when alone) after the current synchronous work; any other command sends the pending
 * batch first ({@link GetBatcher.flush}), so commands keep their issue order. While reads are
 * sequential, the first GET of a tick is written at once instead (the "solo GET": no batch, no
 * microtask before the write); see `RedisBackend.get`. A sent GET or batch is bounded by the
 * connection's shared deadline, with no timer or async frame of its own.
 * @internal
 * @module
 */
import type { CacheBackendError } from "../../errors.js";
import type { Bounded, Deadlines, Responsiveness } from "../deadlines.js";
import type { Namespace } from "../namespace.js";
import { soon } from "../remote.js";
import { MISSING } from "../types.js";
import { mget, type RedisClient } from "./cluster.js";
import type { LocalCopy, Ticket } from "./client-side.js";
import type { ClientSide } from "./client-side-wiring.js";
import { backendError, type Connection } from "./connection.js";

/** What a sent GET or MGET settles: the bounded unit, resolved from the reply or failed with any error. */
interface SentRead extends Bounded {
  done(reply: unknown): void;
  expire(error: unknown): void;
}

/**
 * GETs issued in one tick, sent as one GET or MGET; also the unit the command timeout bounds
 * (see {@link Deadlines}).
 */
class GetBatch implements SentRead {
  at = 0;
  settled = false;
  next: Bounded | undefined = undefined;
  readonly keys: string[] = [];
  readonly resolves: ((value: unknown) => void)[] = [];
  readonly rejects: ((error: unknown) => void)[] = [];
  /** "GET" or "MGET", for error messages (set when sent). */
  command = "GET";
  /** Started in a tick that had already sent a GET alone (see `GetBatcher.get`). */
  afterSolo = false;
  /** clientSide: the local copy, the user keys and the tickets of the reads (see client-side.ts). */
  local: LocalCopy | undefined = undefined;
  userKeys: string[] | undefined = undefined;
  tickets: (Ticket | undefined)[] | undefined = undefined;

  /** Resolves every GET from the reply (one value for a GET, an array for an MGET; for tickets: value/PTTL pairs). */
  done(reply: unknown): void {
    const resolves = this.resolves;
    const local = this.local;
    if (local !== undefined) {
      const pairs = reply as unknown[];
      for (let i = 0; i < resolves.length; i++) {
        const raw = pairs[2 * i] ?? MISSING;
        const ticket = this.tickets![i];
        if (ticket !== undefined) local.finish(this.userKeys![i]!, ticket, raw, Number(pairs[2 * i + 1]));
        resolves[i]!(raw);
      }
      return;
    }
    if (resolves.length === 1) {
      resolves[0]!(reply ?? MISSING);
      return;
    }
    const values = reply as unknown[];
    for (let i = 0; i < resolves.length; i++) resolves[i]!(values[i] ?? MISSING);
  }

  /** Rejects every GET with `error` (as a {@link CacheBackendError}). */
  expire(error: unknown): void {
    const local = this.local;
    if (local !== undefined) {
      const tickets = this.tickets!;
      for (let i = 0; i < tickets.length; i++) {
        const ticket = tickets[i];
        if (ticket !== undefined) local.abandon(this.userKeys![i]!, ticket);
      }
      this.local = undefined;
    }
    const failure = backendError(this.command, error);
    for (const reject of this.rejects) reject(failure);
  }
}

/** A GET sent alone at once (see `GetBatcher.get`): the unit the command timeout bounds. */
class SoloGet implements SentRead {
  at = 0;
  settled = false;
  next: Bounded | undefined = undefined;
  constructor(
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  done(reply: unknown): void {
    this.resolve(reply ?? MISSING);
  }

  expire(error: unknown): void {
    this.reject(backendError("GET", error));
  }
}

/** The GETs of one Redis backend: batched per tick, or sent alone at once. */
export class GetBatcher {
  readonly #connection: Connection;
  readonly #ns: Namespace;
  /** clientSide: the local copy of what this process read (see client-side.ts). */
  readonly #local: LocalCopy | undefined;
  /** clientSide: the fills (see client-side-wiring.ts). */
  readonly #clientSide: ClientSide | undefined;
  /** The connection's, read on every GET. */
  readonly #deadlines: Deadlines | undefined;
  readonly #health: Responsiveness;
  /** GETs waiting for the end of the current tick (see `get`). */
  #gets: GetBatch | undefined;
  /** A GET was sent alone at once in the current tick (reset by a microtask; see `get`). */
  #soloTick = false;
  /** The last tick that sent a GET alone saw more GETs: batch from the first one until a batch holds only one. */
  #batchFirst = false;
  readonly #endSoloTick = (): void => {
    this.#soloTick = false;
  };
  readonly #flushAtTickEnd = (): void => this.#flushGets(true);

  constructor(connection: Connection, ns: Namespace, clientSide: ClientSide | undefined) {
    this.#connection = connection;
    this.#ns = ns;
    this.#local = clientSide?.local;
    this.#clientSide = clientSide;
    this.#deadlines = connection.deadlines;
    this.#health = connection.health;
  }

  /** A GET: from the local copy (clientSide), written at once (a solo GET), or queued for this tick's batch. */
  get(key: string): Promise<unknown> {
    const local = this.#local;
    let ticket: Ticket | undefined;
    if (local !== undefined) {
      const raw = local.raw(key);
      if (raw !== undefined) return Promise.resolve(raw);
      ticket = local.begin(key);
    } else if (this.#gets === undefined) {
      if (this.#soloTick) this.#batchFirst = true;
      else if (!this.#batchFirst) {
        const client = this.#connection.writable;
        if (client !== undefined) {
          this.#soloTick = true;
          soon(this.#endSoloTick);
          return this.#getNow(client, this.#ns.key(key));
        }
      }
    }
    return new Promise((resolve, reject) => {
      let batch = this.#gets;
      if (batch === undefined) {
        batch = this.#gets = new GetBatch();
        batch.afterSolo = this.#soloTick;
        soon(this.#flushAtTickEnd);
      }
      batch.keys.push(this.#ns.key(key));
      batch.resolves.push(resolve);
      batch.rejects.push(reject);
      if (local !== undefined) {
        (batch.userKeys ??= []).push(key);
        (batch.tickets ??= []).push(ticket);
        if (ticket !== undefined) batch.local = local;
      }
    });
  }

  /** One GET, written now on a ready connection, under the shared deadline. */
  #getNow(client: RedisClient, key: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const op = new SoloGet(resolve, reject);
      let reply: Promise<string | null>;
      try {
        reply = client.get(key);
      } catch (error) {
        op.expire(error);
        return;
      }
      this.#settleBy(op, reply);
    });
  }

  /**
   * Settles `op` (a GET or a tick's batch) by the reply to the command just written for it, under
   * the shared deadline when there is one (no async frame, no timer of its own).
   */
  #settleBy(op: SentRead, reply: Promise<unknown>): void {
    const deadlines = this.#deadlines;
    if (deadlines === undefined) {
      reply.then(
        (value) => op.done(value),
        (error: unknown) => op.expire(error),
      );
      return;
    }
    deadlines.add(op);
    reply.then(
      (value) => {
        if (deadlines.settle(op)) op.done(value);
      },
      (error: unknown) => {
        if (deadlines.settle(op)) op.expire(error);
      },
    );
  }

  /** Sends the pending batch: at the end of its tick (`tickEnd`), or early, before another command. */
  #flushGets(tickEnd = false): void {
    const batch = this.#gets;
    if (batch === undefined) return;
    this.#gets = undefined;
    const keys = batch.keys;
    // Only a whole tick that read one key alone says reads are sequential again: a batch cut short
    // by a write says nothing of the GETs that follow it in the tick.
    if (tickEnd && keys.length === 1 && !batch.afterSolo) this.#batchFirst = false;
    if (batch.local !== undefined) {
      // clientSide fills: each value with its TTL, in one script (the local entry must not outlive the key).
      batch.command = "GET_WITH_TTL";
      this.#connection.send(batch.command, (c) => this.#clientSide!.readWithTtl(c, keys)).then(
        (reply) => batch.done(reply),
        (error: unknown) => batch.expire(error),
      );
      return;
    }
    const single = keys.length === 1;
    batch.command = single ? "GET" : "MGET";
    if (this.#health.down) {
      const refused = this.#connection.refused(batch.command);
      for (const reject of batch.rejects) reject(refused);
      return;
    }
    const client = this.#connection.client;
    if (client === undefined || client.status !== "ready") {
      // Not connected (yet): the general path waits for the connection or fails fast.
      const reply = single
        ? this.#connection.send("GET", (c) => c.get(keys[0]!))
        : this.#connection.send("MGET", (c) => mget(c, keys));
      reply.then(
        (value) => batch.done(value),
        (error: unknown) => batch.expire(error),
      );
      return;
    }
    // Connected: send now.
    let reply: Promise<unknown>;
    try {
      reply = single ? client.get(keys[0]!) : mget(client, keys);
    } catch (error) {
      batch.expire(error);
      return;
    }
    this.#settleBy(batch, reply);
  }

  /** Sends the pending batch now, before another command (keeps issue order). */
  flush(): void {
    if (this.#gets !== undefined) this.#flushGets();
  }

  /** Fails the GETs queued for this tick (`close()`): they must not reopen a connection after close. */
  close(): void {
    const queued = this.#gets;
    this.#gets = undefined;
    queued?.expire(new Error("the backend was closed"));
  }
}
