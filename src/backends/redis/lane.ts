/**
 * The limit lane: a second, lean connection to the same Redis server that carries the limit
 * calls made one after another (a lone `LIMIT` script: a sequential caller's every call).
 *
 * Why: a sequential call's time is one round trip, and ioredis' own work on it (its `Command`,
 * its encoder and RESP3 decoder, its queues) is on that path, cold after each wait for the
 * server: measured ~10-15 µs of a ~110 µs loopback round trip (bench/ratelimit-floor.ts). This
 * lane writes the RESP of one script and parses its small reply, nothing else.
 *
 * What it is not: a Redis client. It speaks RESP2, pipelined, in order; it knows only `AUTH`,
 * `SELECT` and a script call (`EVALSHA`, `EVAL` on `NOSCRIPT`). Everything else (connecting
 * the backend, reconnecting with back-off, the deadline of each call, the server's health) stays
 * with the backend's ioredis connection: the lane is used only while that connection is ready and
 * answers, and only once the lane itself is ready; otherwise the call goes through ioredis as
 * before. A lost lane fails the calls in flight on it (a script is never sent twice: it is not
 * idempotent) and is made again, lazily, at most once per {@link LANE_RETRY_MS}.
 *
 * Only for our own single-node, plain-TCP connection (`redis://`): not for `rediss://`, a Cluster
 * or a supplied client, whose connection options are not ours to copy.
 * @internal
 * @module
 */
import { connect, type Socket } from "node:net";
import type { LuaScript } from "../scripts.js";

/** The least time (ms) between two attempts to make the lane (after one failed or was lost). */
export const LANE_RETRY_MS = 1000;

/** The lane's name in `CLIENT LIST` (what the extra connection is, for whoever looks). */
export const LANE_NAME = "cashews-limits";

/** Where and how the lane connects: the options of the backend's own ioredis client. */
export interface LaneOptions {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** Bound on establishing the lane (ms; 0: none). */
  connectTimeout: number;
}

/** A call waiting for its reply; `retry` is the script's `EVAL` form, sent once on `NOSCRIPT`. */
interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  retry: string | undefined;
}

/** A reply that is not complete in the bytes read so far. */
const INCOMPLETE = Symbol("incomplete");

/** An error reply of the server (`-ERR …`): rejects its call, never the lane. */
class ReplyError extends Error {
  override name = "ReplyError";
}

export class Lane {
  readonly #options: LaneOptions;
  #socket: Socket | undefined;
  /** True once the handshake (AUTH, SELECT) has been answered, until the socket is lost. */
  #ready = false;
  #closed = false;
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
    if (this.#socket === undefined && !this.#closed && performance.now() >= this.#retryAt) this.#open();
    return false;
  }

  /** Runs `script` on `keys` and `args` (the lane must be {@link usable}): its reply, or its error. */
  script(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const count = String(keys.length);
    const retry = encode(["EVAL", script.lua, count, ...keys, ...args]);
    return this.#call(encode(["EVALSHA", script.sha1, count, ...keys, ...args]), retry);
  }

  /** Drops the lane for good, failing the calls in flight. */
  close(): void {
    this.#closed = true;
    this.#lost(new Error("the backend was closed"));
  }

  #call(command: string, retry: string | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject, retry });
      this.#socket!.write(command);
    });
  }

  #open(): void {
    const { host, port, db, username, password, connectTimeout } = this.#options;
    const socket = connect({ host, port, noDelay: true });
    this.#socket = socket;
    const timer = connectTimeout > 0 ? setTimeout(() => socket.destroy(new Error(`connecting timed out after ${connectTimeout} ms`)), connectTimeout) : undefined;
    // The handshake, pipelined, then ready: AUTH, SELECT, the name CLIENT LIST shows (its refusal
    // by an ACL is no failure), PING (so there is always one reply to wait for).
    const handshake: Promise<unknown>[] = [];
    const ask = (args: string[], optional = false): void => {
      handshake.push(new Promise((resolve, reject) => this.#pending.push({ resolve, reject: optional ? resolve : reject, retry: undefined })));
      socket.write(encode(args));
    };
    if (password !== undefined) ask(username !== undefined ? ["AUTH", username, password] : ["AUTH", password]);
    if (db !== 0) ask(["SELECT", String(db)]);
    ask(["CLIENT", "SETNAME", LANE_NAME], true);
    ask(["PING"]);
    Promise.all(handshake).then(
      () => {
        clearTimeout(timer);
        if (this.#socket === socket) this.#ready = true;
      },
      (error: Error) => {
        clearTimeout(timer);
        socket.destroy(error);
      },
    );
    socket.on("data", (data: Buffer) => this.#read(data));
    socket.on("error", () => {}); // the close that follows fails what is in flight
    // The server's end (an idle timeout, CLIENT KILL) is read as soon as it comes: the next call goes on ioredis.
    const lost = (): void => {
      clearTimeout(timer);
      if (this.#socket === socket) this.#lost(new Error("the connection was lost"));
    };
    socket.on("end", lost);
    socket.on("close", lost);
  }

  /** The socket is gone: every call in flight fails, and the lane may be made again later. */
  #lost(error: Error): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#ready = false;
    this.#rest = undefined;
    this.#retryAt = performance.now() + LANE_RETRY_MS;
    socket?.destroy();
    const pending = this.#pending;
    this.#pending = [];
    for (const call of pending) call.reject(error);
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
      else if (call.retry !== undefined && reply.message.startsWith("NOSCRIPT")) {
        // The script is not loaded (a restarted or flushed server): its EVAL, once, at the back of the line.
        this.#pending.push({ ...call, retry: undefined });
        this.#socket?.write(call.retry);
      } else call.reject(reply);
    }
  }
}

/** `args` as one RESP command. */
function encode(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
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
