/**
 * A local Upstash-compatible REST server for tests (protocols.md §2.3 / Appendix B): `node:http` in
 * front of a real redis-server, so the real `@upstash/redis` client works against it as against
 * Upstash.
 *
 * - `POST /` takes one flat command array, `POST /pipeline` and `POST /multi-exec` an array of them;
 *   other paths give 404, other methods 405. `Authorization: Bearer <token>` or 401.
 * - Arguments: strings, numbers and booleans become `String(x)`; objects, arrays and null give 400.
 * - A single command that fails gives 400 `{"error": <redis message>}`; a pipeline always gives 200
 *   `[{result}|{error}]`, run in order on one connection; `/multi-exec` sends MULTI…EXEC on a
 *   dedicated connection (EXECABORT → 400, runtime errors → per-item `{error}`).
 * - `Upstash-Encoding: base64`: every string at every depth (status replies such as OK, QUEUED and
 *   PONG included) is the base64 of its bytes; integers are JSON numbers (exact digits, even above
 *   2^53), nil is null, errors are never encoded. Without the header strings are UTF-8 (invalid
 *   bytes become U+FFFD, as Upstash documents).
 * - Replies are read as Buffers over RESP2 (`protocol: 2`, upper-case command names so that no
 *   ioredis reply transformer applies), so arbitrary bytes survive.
 * - Redis unreachable (or the connection lost mid-request) → 500 `{"error": ...}`.
 * - Every response carries an `upstash-sync-token` header (one node: read-your-writes always holds).
 * - Commands that would change the shared connection's state (SUBSCRIBE, MONITOR, SELECT, HELLO,
 *   MULTI/EXEC outside /multi-exec, ...) are refused with `ERR Command is not available: '<name>'`.
 *   Blocking commands (BLPOP, XREAD BLOCK, WAIT, ...) run on a dedicated connection so they never
 *   stall other requests.
 *
 * - `POST /subscribe/<channel>` and `POST /psubscribe/<pattern>` (what `redis.subscribe()` /
 *   `redis.psubscribe()` send: `Accept: text/event-stream`, body `[]`, the channel raw in the path,
 *   one channel per request): a server-sent-events stream on a dedicated Redis SUBSCRIBE connection.
 *   Once Redis confirms the subscription the stream sends `data: subscribe,<channel>,1`, then one
 *   `data: message,<channel>,<payload>` (`data: pmessage,<pattern>,<channel>,<payload>`) line per
 *   PUBLISH, each followed by a blank line, payloads as UTF-8 text (never base64, which is what
 *   the client parses). A `: keep-alive` comment every `keepAliveMs` (the client ignores lines that
 *   do not start with `data: `). `dropSubscriptions()` kills every open stream server side.
 *
 * `setDelay(ms)` holds every request for `ms` before it is handled (so a command whose client gave
 * up is executed late, or never when the server stops first).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Redis, ReplyError, type RedisOptions } from "ioredis";

export interface UpstashServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  token: string;
  /** HTTP requests served since start or the last resetCount() (every route, auth failures included). */
  requests: number;
  /** Commands executed (sum over pipeline items). */
  commands: number;
  resetCount(): void;
  /** Make every response wait this long (for "slow endpoint" tests); 0 = off. */
  setDelay(ms: number): void;
  /** Closes the HTTP server (after which the endpoint refuses connections) and its redis connections. */
  stop(): Promise<void>;
  /** Starts listening again on the same port after stop(). */
  restart(): Promise<void>;
  /** How many times this command ran since start or the last resetCount() (pipeline items counted one by one). */
  commandCount(name: string): number;
  /** Subscription streams currently open (confirmed or not). */
  readonly subscriptions: number;
  /**
   * Kills every open subscription stream server side: `"destroy"` (default) resets the socket
   * mid-stream, `"end"` ends the response cleanly. The client may subscribe again at once.
   */
  dropSubscriptions(mode?: "destroy" | "end"): number;
}

export interface StartUpstashServerOptions {
  /** The redis-server to forward to, e.g. `redis://127.0.0.1:6379`. */
  redisUrl: string;
  /** Bearer token clients must send; default `"test-token"`. */
  token?: string;
  /** Port to listen on (127.0.0.1); default: a free one. */
  port?: number;
  /** Interval of the `: keep-alive` comment on subscription streams; default 15 000, 0 = none. */
  keepAliveMs?: number;
}

type Route = "single" | "pipeline" | "multi" | { subscribe: "subscribe" | "psubscribe"; channel: string };
type Command = [name: string, ...args: string[]];
/** An item of a pipeline: either a valid command or an error found before sending it. */
type Item = { command: Command } | { refused: string };
type Reply = { result: unknown } | { error: string };

/** A request the server refuses with the given status and `{"error": message}`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An integer reply (kept as its decimal digits so values above 2^53 stay exact). */
class Int {
  constructor(readonly digits: string) {}
}

/** Commands that would change the shared connection's mode or state, or break the protocol. */
const REFUSED = new Set([
  "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
  "MONITOR", "SELECT", "SWAPDB", "QUIT", "RESET", "HELLO", "SYNC", "PSYNC", "REPLCONF",
  "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH",
]);
const REFUSED_SUBCOMMANDS = new Set(["CLIENT REPLY", "CLIENT KILL", "CLIENT PAUSE", "CLIENT TRACKING", "CLIENT NO-EVICT"]);

/** Commands that may block the connection (they get a connection of their own). */
const BLOCKING = new Set([
  "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF",
]);

function isBlocking(command: Command): boolean {
  const name = command[0];
  if (BLOCKING.has(name)) return true;
  if (name === "XREAD" || name === "XREADGROUP") return command.some((arg, i) => i > 0 && arg.toUpperCase() === "BLOCK");
  return false;
}

const REDIS_OPTIONS: RedisOptions = {
  // RESP2 shapes and Buffer replies (§2.4): v6 speaks RESP3 by default.
  protocol: 2,
  // Integer replies as strings, so they can be told from bulk strings (Buffers) and stay exact.
  stringNumbers: true,
  lazyConnect: true,
  // Fail fast (→ 500) instead of queueing or replaying commands while Redis is away.
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
};

export async function startUpstashServer(options: StartUpstashServerOptions): Promise<UpstashServer> {
  const token = options.token ?? "test-token";
  let port = options.port ?? 0;
  let requests = 0;
  let commands = 0;
  let delayMs = 0;
  let syncToken = 0;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const counts = new Map<string, number>();
  const count = (batch: Command[]) => {
    for (const [raw] of batch) {
      const name = String(raw).toUpperCase();
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  };

  /** Set while running; replaced on every restart so stale handlers can tell. */
  let running: Running | undefined;

  const openConnection = async (shared: boolean): Promise<Redis> => {
    const conn = new Redis(options.redisUrl, {
      ...REDIS_OPTIONS,
      // The shared connection comes back with Redis; dedicated ones are thrown away instead.
      retryStrategy: shared ? (times) => Math.min(times * 25, 250) : () => null,
    });
    conn.on("error", () => {}); // reported per request; keep ioredis from logging "Unhandled error event"
    try {
      await conn.connect();
    } catch (error) {
      conn.disconnect();
      throw error;
    }
    return conn;
  };

  class Running {
    readonly server: Server;
    readonly sockets = new Set<Socket>();
    readonly idle: Redis[] = [];
    readonly busy = new Set<Redis>();
    readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
    /** Open subscription streams and their kill switch. */
    readonly streams = new Set<{ res: ServerResponse; kill: (mode: "destroy" | "end") => void }>();
    stopped = false;

    constructor(readonly shared: Redis) {
      this.server = createServer((req, res) => {
        this.handle(req, res).catch((error: unknown) => {
          // Last resort: never let a request take the process down.
          safeSend(res, 500, { error: `ERR internal error: ${messageOf(error)}` });
        });
      });
      this.server.on("clientError", (_error, socket) => socket.destroy());
      this.server.on("connection", (socket: Socket) => {
        this.sockets.add(socket);
        socket.once("close", () => this.sockets.delete(socket));
      });
    }

    listen(): Promise<void> {
      return new Promise((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        this.server.once("error", onError);
        this.server.listen(port, "127.0.0.1", () => {
          this.server.off("error", onError);
          const address = this.server.address();
          if (typeof address === "object" && address) port = address.port;
          resolve();
        });
      });
    }

    async stop(): Promise<void> {
      this.stopped = true;
      for (const entry of this.timers) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      this.timers.clear();
      for (const stream of [...this.streams]) stream.kill("destroy");
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
      await closed;
      await Promise.all([this.shared, ...this.idle, ...this.busy].map(closeConnection));
      this.idle.length = 0;
      this.busy.clear();
    }

    private sleep(ms: number): Promise<void> {
      return new Promise((resolve) => {
        const entry = {
          resolve,
          timer: setTimeout(() => {
            this.timers.delete(entry);
            resolve();
          }, ms),
        };
        this.timers.add(entry);
      });
    }

    /** A connection nobody else writes to (for MULTI…EXEC and blocking commands). */
    private async borrow(): Promise<Redis> {
      let conn = this.idle.pop();
      while (conn && conn.status !== "ready") {
        conn.disconnect();
        conn = this.idle.pop();
      }
      conn ??= await openConnection(false);
      if (this.stopped) {
        conn.disconnect();
        throw new Error("Connection is closed.");
      }
      this.busy.add(conn);
      return conn;
    }

    private giveBack(conn: Redis, healthy: boolean): void {
      this.busy.delete(conn);
      if (healthy && !this.stopped && conn.status === "ready" && this.idle.length < 8) this.idle.push(conn);
      else conn.disconnect();
    }

    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      requests++;
      req.on("error", () => {});
      res.on("error", () => {});
      try {
        const delay = delayMs;
        if (delay > 0) await this.sleep(delay);
        if (this.stopped) {
          res.destroy();
          return;
        }
        const route = routeOf(req.url ?? "/");
        if (!route) throw new HttpError(404, `ERR endpoint not found: ${req.method ?? ""} ${req.url ?? ""}`);
        if (req.method !== "POST") throw new HttpError(405, "ERR method not allowed, use POST");
        if (req.headers.authorization !== `Bearer ${token}`) throw new HttpError(401, "Unauthorized");
        if (typeof route === "object") {
          await readBody(req); // `[]`: the channel is in the path
          await this.subscribe(route.subscribe, route.channel, req, res);
          return;
        }
        const format = header(req, "upstash-response-format");
        if (format !== undefined && format.toLowerCase() !== "json") {
          throw new HttpError(400, `ERR unsupported Upstash-Response-Format: ${format}`);
        }
        const base64 = (header(req, "upstash-encoding") ?? "").toLowerCase() === "base64";
        const body = parseBody(await readBody(req));
        const [status, payload] = await this.execute(route, body, base64);
        send(res, status, payload);
      } catch (error) {
        if (error instanceof HttpError) send(res, error.status, { error: error.message });
        else send(res, 500, { error: messageOf(error) });
      }
    }

    private async execute(route: Route, body: unknown, base64: boolean): Promise<[number, unknown]> {
      if (route === "single") {
        const command = parseCommand(body);
        const refusal = refused(command);
        if (refusal) throw new HttpError(400, refusal);
        const reply = (await this.run(isBlocking(command), [command]))[0]!;
        if ("error" in reply) return [400, reply];
        return [200, { result: encode(reply.result, base64) }];
      }
      if (!Array.isArray(body) || body.length === 0) {
        throw new HttpError(400, "ERR request body must be a non-empty array of commands");
      }
      const items: Item[] = body.map((raw): Item => {
        const command = parseCommand(raw);
        const refusal = refused(command);
        return refusal ? { refused: refusal } : { command };
      });
      if (route === "pipeline") {
        const toRun = items.flatMap((item) => ("command" in item ? [item.command] : []));
        const replies = toRun.length ? await this.run(toRun.some(isBlocking), toRun) : [];
        let next = 0;
        const out = items.map((item) => {
          if ("refused" in item) return { error: item.refused };
          const reply = replies[next++]!;
          return "error" in reply ? reply : { result: encode(reply.result, base64) };
        });
        return [200, out];
      }
      const firstRefused = items.find((item): item is { refused: string } => "refused" in item);
      if (firstRefused) throw new HttpError(400, firstRefused.refused);
      const results = await this.transaction(items.map((item) => (item as { command: Command }).command));
      return [200, results.map((reply) => ("error" in reply ? reply : { result: encode(reply.result, base64) }))];
    }

    /**
     * A subscription stream: a dedicated RESP2 connection in subscriber mode; the confirmation is
     * written once Redis confirmed, so every PUBLISH after it reaches the stream.
     */
    private async subscribe(
      kind: "subscribe" | "psubscribe",
      channel: string,
      req: IncomingMessage,
      res: ServerResponse,
    ): Promise<void> {
      if (channel === "") throw new HttpError(400, `ERR wrong number of arguments for '${kind}' command`);
      const conn = new Redis(options.redisUrl, { ...REDIS_OPTIONS, retryStrategy: () => null, autoResubscribe: false });
      conn.on("error", () => {});
      let keepAlive: NodeJS.Timeout | undefined;
      let done = false;
      const stream = {
        res,
        kill: (mode: "destroy" | "end") => {
          if (done) return;
          done = true;
          this.streams.delete(stream);
          if (keepAlive) clearInterval(keepAlive);
          conn.disconnect();
          if (mode === "end" && res.headersSent) res.end();
          else res.destroy();
        },
      };
      this.streams.add(stream);
      res.once("close", () => stream.kill("destroy"));
      req.once("close", () => {
        if (!res.writableEnded) stream.kill("destroy");
      });
      conn.once("end", () => stream.kill("end")); // Redis went away: the stream ends
      try {
        await conn.connect();
        commands++;
        count([[kind.toUpperCase()]]);
        if (kind === "subscribe") await conn.subscribe(channel);
        else await conn.psubscribe(channel);
      } catch (error) {
        if (done) return;
        done = true;
        this.streams.delete(stream);
        conn.disconnect();
        throw error instanceof ReplyError ? new HttpError(400, (error as Error).message) : error;
      }
      if (done || this.stopped) return stream.kill("destroy");
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "upstash-sync-token": String(++syncToken),
      });
      res.flushHeaders();
      const line = (data: string) => {
        if (!done) res.write(`data: ${data}\n\n`);
      };
      conn.on("messageBuffer", (ch: Buffer, message: Buffer) => {
        line(`message,${ch.toString("utf8")},${message.toString("utf8")}`);
      });
      conn.on("pmessageBuffer", (pattern: Buffer, ch: Buffer, message: Buffer) => {
        line(`pmessage,${pattern.toString("utf8")},${ch.toString("utf8")},${message.toString("utf8")}`);
      });
      line(`${kind},${channel},1`);
      if (keepAliveMs > 0) {
        keepAlive = setInterval(() => {
          if (!done) res.write(": keep-alive\n\n");
        }, keepAliveMs);
      }
    }

    /** Sends the commands back to back on one connection; Redis errors become `{error}` items. */
    private async run(dedicated: boolean, batch: Command[]): Promise<Reply[]> {
      const conn = dedicated ? await this.borrow() : this.shared;
      let healthy = true;
      try {
        commands += batch.length;
        count(batch);
        const settled = await Promise.allSettled(batch.map(([name, ...args]) => conn.callBuffer(name, ...args)));
        return settled.map((outcome) => {
          if (outcome.status === "fulfilled") return { result: outcome.value };
          if (outcome.reason instanceof ReplyError) return { error: (outcome.reason as Error).message };
          healthy = false;
          throw outcome.reason; // transport failure → 500
        });
      } finally {
        if (dedicated) this.giveBack(conn, healthy);
      }
    }

    /** MULTI, the commands, EXEC, written back to back on a dedicated connection. */
    private async transaction(batch: Command[]): Promise<Reply[]> {
      const conn = await this.borrow();
      let healthy = false;
      try {
        commands += batch.length;
        count(batch);
        const pending = [
          conn.callBuffer("MULTI"),
          ...batch.map(([name, ...args]) => conn.callBuffer(name, ...args)),
          conn.callBuffer("EXEC"),
        ];
        const settled = await Promise.allSettled(pending);
        for (const outcome of settled) {
          if (outcome.status === "rejected" && !(outcome.reason instanceof ReplyError)) throw outcome.reason;
        }
        healthy = true;
        const exec = settled[settled.length - 1]!;
        if (exec.status === "rejected") throw new HttpError(400, (exec.reason as Error).message); // EXECABORT
        if (!Array.isArray(exec.value)) throw new HttpError(400, "EXECABORT Transaction discarded");
        return (exec.value as unknown[]).map((value) =>
          value instanceof ReplyError ? { error: (value as Error).message } : { result: value },
        );
      } finally {
        this.giveBack(conn, healthy);
      }
    }
  }

  /** Writes a JSON response (integers exact) with the sync-token header. */
  function send(res: ServerResponse, status: number, payload: unknown): void {
    if (res.headersSent || res.destroyed) return;
    const body = stringify(payload);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "upstash-sync-token": String(++syncToken),
    });
    res.end(body);
  }

  function safeSend(res: ServerResponse, status: number, payload: unknown): void {
    try {
      send(res, status, payload);
    } catch {
      res.destroy();
    }
  }

  const start = async (): Promise<void> => {
    const shared = await openConnection(true);
    const next = new Running(shared);
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await next.listen();
        running = next;
        return;
      } catch (error) {
        lastError = error;
        // restart(): the old listener may not have let go of the port yet; retry for a second.
        if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || port === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await closeConnection(shared);
    throw lastError;
  };

  const api: UpstashServer = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    token,
    get requests() {
      return requests;
    },
    get commands() {
      return commands;
    },
    resetCount() {
      requests = 0;
      commands = 0;
      counts.clear();
    },
    commandCount(name: string) {
      return counts.get(name.toUpperCase()) ?? 0;
    },
    get subscriptions() {
      return running?.streams.size ?? 0;
    },
    dropSubscriptions(mode: "destroy" | "end" = "destroy") {
      const streams = [...(running?.streams ?? [])];
      for (const stream of streams) stream.kill(mode);
      return streams.length;
    },
    setDelay(ms: number) {
      delayMs = Math.max(0, ms);
    },
    async stop() {
      const current = running;
      running = undefined;
      if (current) await current.stop();
    },
    async restart() {
      await api.stop();
      await start();
    },
  };
  await start();
  return api;
}

function routeOf(url: string): Route | undefined {
  const path = url.split("?")[0]!.replace(/\/+$/, "");
  if (path === "") return "single";
  if (path === "/pipeline") return "pipeline";
  if (path === "/multi-exec") return "multi";
  // `[baseUrl, "subscribe", channel].join("/")`: the channel raw; fetch percent-encodes what a URL must.
  const sub = /^\/(subscribe|psubscribe)\/(.*)$/.exec(path);
  if (sub) {
    let channel = sub[2]!;
    try {
      channel = decodeURIComponent(channel);
    } catch {
      // not percent-encoded: as sent
    }
    return { subscribe: sub[1] as "subscribe" | "psubscribe", channel };
  }
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `ERR failed to parse request body as JSON: ${messageOf(error)}`);
  }
}

function parseCommand(raw: unknown): Command {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new HttpError(400, "ERR a command must be a non-empty JSON array");
  }
  const parts = raw.map((arg: unknown) => {
    if (typeof arg === "string" || typeof arg === "number" || typeof arg === "boolean") return String(arg);
    throw new HttpError(400, `ERR invalid command argument ${JSON.stringify(arg)}: only strings, numbers and booleans`);
  });
  // Upper-case: ioredis reply transformers are keyed by the lower-case name (§2.4).
  return [parts[0]!.toUpperCase(), ...parts.slice(1)];
}

function refused(command: Command): string | undefined {
  const [name, sub] = command;
  const full = sub === undefined ? name : `${name} ${sub.toUpperCase()}`;
  if (REFUSED.has(name) || REFUSED_SUBCOMMANDS.has(full)) return `ERR Command is not available: '${name.toLowerCase()}'`;
  return undefined;
}

/** RESP2 reply (Buffers, integer strings, null, arrays, nested errors) → JSON value. */
function encode(value: unknown, base64: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return base64 ? value.toString("base64") : value.toString("utf8");
  // With stringNumbers, ioredis hands integer replies over as JS strings (bulk strings are Buffers).
  if (typeof value === "string") return /^-?\d+$/.test(value) ? new Int(value) : encodeText(value, base64);
  if (typeof value === "number") return Number.isInteger(value) ? new Int(String(value)) : value;
  if (Array.isArray(value)) return value.map((element) => encode(element, base64));
  // An error nested in a reply (e.g. a Lua table holding redis.error_reply): its message as a string.
  if (value instanceof Error) return encodeText(value.message, base64);
  return encodeText(String(value), base64);
}

function encodeText(text: string, base64: boolean): string {
  return base64 ? Buffer.from(text, "utf8").toString("base64") : text;
}

/** JSON.stringify that writes `Int` as bare digits. */
function stringify(value: unknown): string {
  if (value instanceof Int) return value.digits;
  if (Array.isArray(value)) return `[${value.map(stringify).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${stringify(v)}`);
    return `{${fields.join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function closeConnection(conn: Redis): Promise<void> {
  if (conn.status === "end") return;
  const ended = new Promise<void>((resolve) => conn.once("end", () => resolve()));
  conn.disconnect();
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1000))]);
}
