/**
 * The limit lane: a second, lean connection to the server the Redis backend's ioredis client is
 * connected to, which carries the backend's `LIMIT` scripts (a sequential caller's every call,
 * and the scripts of a tick of calls).
 *
 * Why: a sequential call's time is one round trip, and ioredis' own work on it (its `Command`,
 * its encoder and RESP3 decoder, its queues) is on that path, cold after each wait for the
 * server: measured ~10-15 µs of a ~110 µs loopback round trip (bench/ratelimit-floor.ts). This
 * lane writes the RESP of one script call and parses its small reply, nothing else.
 *
 * What it is not: a Redis client. It speaks RESP2, pipelined, in order. Its handshake is `AUTH`,
 * `SELECT`, `CLIENT SETNAME` ({@link LANE_NAME}) and `PING`; then it sends only script calls
 * (`EVALSHA`, and `EVAL` once on `NOSCRIPT`). Everything else stays with the backend's ioredis
 * connection (see connection.ts), which the lane follows:
 * - it is made to the address that client's socket is connected to, and used only while that
 *   client is ready and the server answers; otherwise a call goes through ioredis as before;
 * - it is dropped when that client's connection closes, when a call on it times out (a silent
 *   lane must not be tried again), and when the server answers `READONLY` or `MASTERDOWN` (no
 *   longer the master);
 * - a dropped lane fails the calls in flight on it (a script is never sent twice: it is not
 *   idempotent) and is made again, lazily, at most once per {@link LANE_RETRY_MS} (a handshake
 *   the server refuses: once per {@link LANE_REFUSED_RETRY_MS}, and reported once).
 *
 * Order: the scripts on the lane keep their issue order, as they did on ioredis. Only when the
 * lane opens or is dropped can a script on one connection overtake one in flight on the other
 * (calls of different ticks, each still decided atomically). The lane does not wait for the GETs
 * of the tick queued before it (batching.ts): they touch none of its keys.
 *
 * Only for our own single-node, plain-TCP connection (`redis://`): not for `rediss://`, a Cluster
 * or a supplied client, whose connection options are not ours to copy.
 * @internal
 * @module
 */
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import type { LuaScript } from "../scripts.js";

/** The least time (ms) between two attempts to make the lane (after one failed or was lost). */
export const LANE_RETRY_MS = 1000;
/** The least time (ms) before the lane is made again after the server refused its handshake (ACL, password). */
export const LANE_REFUSED_RETRY_MS = 30_000;
/** How long (ms) `close()` waits for the replies of the calls in flight on the lane. */
const CLOSE_WAIT_MS = 1000;

/** The lane's name in `CLIENT LIST` (what the extra connection is, for whoever looks). */
export const LANE_NAME = "cashews-limits";

/** Where and how the lane connects: the backend's own ioredis client's. */
export interface LaneOptions {
  /** The address the backend's ioredis client is connected to now (undefined: not connected). */
  where(): { host: string; port: number } | undefined;
  db: number;
  username?: string;
  password?: string;
  /** Bound on establishing the lane (ms; 0: none). */
  connectTimeout: number;
  /** Told (once) when the server refuses the lane's handshake. */
  onRefused(error: Error): void;
}

/** A call waiting for its reply; `script` and `items` give its `EVAL` form, sent once on `NOSCRIPT`. */
interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  script?: LuaScript;
  items?: readonly string[];
}

/** A reply that is not complete in the bytes read so far. */
const INCOMPLETE = Symbol("incomplete");

/** An error reply of the server (`-ERR …`): it fails its call, not the lane (see {@link isReplyError}). */
class ReplyError extends Error {
  override name = "ReplyError";
}

/** Whether `error` is the server's answer to a call (the lane is sound), not a loss or a timeout. */
export function isReplyError(error: unknown): boolean {
  return error instanceof ReplyError;
}

export class Lane {
  readonly #options: LaneOptions;
  #socket: Socket | undefined;
  /** True once the handshake has been answered, until the socket is dropped or closing. */
  #ready = false;
  /** `close()` waits for the calls in flight: no new call, then the socket is ended. */
  #closing: (() => void) | undefined;
  #refusedOnce = false;
  /** When the lane may be made again (`performance.now()` ms). */
  #retryAt = 0;
  /** The calls in flight, in the order they were written. */
  #pending: Pending[] = [];
  /** Bytes read and not yet parsed (a reply split across reads). */
  #rest: Buffer | undefined;

  constructor(options: LaneOptions) {
    this.#options = options;
  }

  /** Whether a call can be written now. When not, starts making the lane (at most once per {@link LANE_RETRY_MS}). */
  usable(): boolean {
    if (this.#ready) return true;
    if (this.#socket === undefined && performance.now() >= this.#retryAt) this.#open();
    return false;
  }

  /** Runs `script` on `keys` and `args` (the lane must be {@link usable}): its reply, or its error. */
  script(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const items = [String(keys.length), ...keys, ...args];
    return new Promise((resolve, reject) => {
      this.#socket!.write(encode("EVALSHA", script.sha1, items));
      this.#pending.push({ resolve, reject, script, items });
    });
  }

  /** Drops the lane (the calls in flight fail with `reason`); it is made again later. */
  drop(reason: string): void {
    if (this.#socket !== undefined) this.#lost(new Error(reason));
  }

  /** Takes no new call, waits (a while) for the replies of those in flight, then ends the connection. */
  close(): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) return Promise.resolve();
    this.#ready = false;
    if (this.#pending.length === 0) {
      this.#lost(new Error("the backend was closed"));
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.drop("the backend was closed"), CLOSE_WAIT_MS);
      this.#closing = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #open(): void {
    const where = this.#options.where();
    if (where === undefined) return;
    const { db, username, password, connectTimeout } = this.#options;
    this.#retryAt = performance.now() + LANE_RETRY_MS;
    let socket: Socket;
    try {
      socket = connect({ host: where.host, port: where.port });
    } catch {
      return; // tried again after LANE_RETRY_MS, through ioredis meanwhile
    }
    this.#socket = socket;
    const timer = connectTimeout > 0 ? setTimeout(() => this.drop(`connecting timed out after ${connectTimeout} ms`), connectTimeout) : undefined;
    const lost = (): void => {
      clearTimeout(timer);
      if (this.#socket === socket) this.#lost(new Error("the connection was lost"));
    };
    socket.on("data", (data: Buffer) => this.#read(data));
    socket.on("error", () => {}); // the close that follows fails what is in flight
    // The server's end (an idle timeout, CLIENT KILL) is read as soon as it comes: the next call goes through ioredis.
    socket.on("end", lost);
    socket.on("close", lost);
    // The handshake, pipelined, then ready: AUTH, SELECT, the name CLIENT LIST shows (its refusal
    // by an ACL is no failure), PING (so there is always one reply to wait for).
    const handshake: Promise<unknown>[] = [];
    const ask = (name: string, args: string[], optional = false): void => {
      socket.write(encode(name, args[0], args.slice(1)));
      handshake.push(new Promise((resolve, reject) => this.#pending.push({ resolve, reject: optional ? resolve : reject })));
    };
    try {
      socket.setNoDelay(true);
      if (password !== undefined) ask("AUTH", username !== undefined ? [username, password] : [password]);
      if (db !== 0) ask("SELECT", [String(db)]);
      ask("CLIENT", ["SETNAME", LANE_NAME], true);
      ask("PING", []);
    } catch (error) {
      clearTimeout(timer);
      this.#lost(error as Error);
      return;
    }
    Promise.all(handshake).then(
      () => {
        clearTimeout(timer);
        if (this.#socket === socket) this.#ready = true;
      },
      (error: Error) => {
        clearTimeout(timer);
        if (this.#socket !== socket) return;
        this.#lost(error);
        if (!(error instanceof ReplyError)) return;
        // Refused (a password or an ACL the main connection passes?): not again soon, and said once.
        this.#retryAt = performance.now() + LANE_REFUSED_RETRY_MS;
        if (this.#refusedOnce) return;
        this.#refusedOnce = true;
        this.#options.onRefused(new Error(`the server refused the limit lane's handshake (${error.message}); limit calls stay on the backend's connection`, { cause: error }));
      },
    );
  }

  /** The socket is gone: every call in flight fails, and the lane may be made again later. */
  #lost(error: Error): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#ready = false;
    this.#rest = undefined;
    this.#retryAt = Math.max(this.#retryAt, performance.now() + LANE_RETRY_MS);
    socket?.destroy();
    const pending = this.#pending;
    this.#pending = [];
    for (const call of pending) call.reject(error);
    const closed = this.#closing;
    this.#closing = undefined;
    closed?.();
  }

  #read(data: Buffer): void {
    let buffer = data;
    if (this.#rest !== undefined) {
      buffer = Buffer.concat([this.#rest, data]);
      this.#rest = undefined;
    }
    const cursor = { buffer, at: 0 };
    while (cursor.at < buffer.length) {
      const start = cursor.at;
      let reply: unknown;
      try {
        reply = parse(cursor);
      } catch (error) {
        this.#lost(error as Error); // not RESP: nothing after it can be trusted
        return;
      }
      if (reply === INCOMPLETE) {
        this.#rest = buffer.subarray(start);
        return;
      }
      const call = this.#pending.shift();
      if (call === undefined) {
        this.#lost(new Error("a reply nobody asked for"));
        return;
      }
      if (!(reply instanceof ReplyError)) call.resolve(reply);
      else if (call.script !== undefined && reply.message.startsWith("NOSCRIPT")) {
        // The script is not loaded (SCRIPT FLUSH): its EVAL, once, at the back of the line.
        this.#socket!.write(encode("EVAL", call.script.lua, call.items!));
        this.#pending.push({ resolve: call.resolve, reject: call.reject });
      } else {
        call.reject(reply);
        // No longer the master (a failover): the lane follows ioredis to the new one.
        if (reply.message.startsWith("READONLY") || reply.message.startsWith("MASTERDOWN")) {
          this.#lost(new Error(`the server is no longer the master (${reply.message})`));
          return;
        }
      }
    }
    if (this.#closing !== undefined && this.#pending.length === 0) this.#lost(new Error("the backend was closed"));
  }
}

/** One RESP command: `name`, `first`, then `items`. */
function encode(name: string, first: string | undefined, items: readonly string[]): string {
  let out = `*${items.length + (first === undefined ? 1 : 2)}\r\n$${name.length}\r\n${name}\r\n`;
  if (first !== undefined) out += `$${Buffer.byteLength(first)}\r\n${first}\r\n`;
  for (const item of items) out += `$${Buffer.byteLength(item)}\r\n${item}\r\n`;
  return out;
}

/**
 * One RESP2 reply from `cursor` (advanced past it): a number (`:`), a string (`+`, `$`), null
 * (`$-1`, `*-1`), an array (`*`), a {@link ReplyError} (`-`), or {@link INCOMPLETE}.
 */
function parse(cursor: { buffer: Buffer; at: number }): unknown {
  const { buffer } = cursor;
  const end = buffer.indexOf(13, cursor.at); // \r
  if (end === -1 || end + 1 >= buffer.length) return INCOMPLETE;
  const start = cursor.at;
  const type = buffer[start];
  const line = buffer.toString("latin1", start + 1, end);
  cursor.at = end + 2;
  switch (type) {
    case 58: // :
      return Number(line);
    case 43: // +
      return line;
    case 45: // -
      return new ReplyError(buffer.toString("utf8", start + 1, end));
    case 36: {
      // $
      const length = Number(line);
      if (length < 0) return null;
      if (cursor.at + length + 2 > buffer.length) return INCOMPLETE;
      const text = buffer.toString("utf8", cursor.at, cursor.at + length);
      cursor.at += length + 2;
      return text;
    }
    case 42: {
      // *
      const length = Number(line);
      if (length < 0) return null;
      const items: unknown[] = [];
      for (let i = 0; i < length; i++) {
        const item = parse(cursor);
        if (item === INCOMPLETE) return INCOMPLETE;
        items.push(item);
      }
      return items;
    }
    default:
      throw new Error(`not a RESP reply (type byte ${String(type)})`);
  }
}
