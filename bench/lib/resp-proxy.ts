/**
 * A counting TCP proxy in front of a redis-server (bench/ratelimit.ts): it forwards bytes both ways
 * unchanged and counts, on the client → server side, the top-level RESP commands (`*N` arrays; the
 * commands a Lua script runs inside Redis are not seen here, unlike in `INFO commandstats` or
 * `total_commands_processed`, which count those too) and the reads of client data on the proxy's
 * side (a lower bound on the client's writes: writes made back to back, e.g. several in one tick,
 * can arrive as one read; commands are the exact count).
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface CountingProxy {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** Top-level commands sent by clients since start or the last reset(). */
  readonly commands: number;
  /** Reads of client data (chunks received; a lower bound on the client's writes) since start or the last reset(). */
  readonly writes: number;
  /** Top-level commands per command name (upper case). */
  commandCount(name: string): number;
  reset(): void;
  stop(): Promise<void>;
}

/**
 * Counts the RESP arrays in a client's byte stream. Inline commands (no `*`) are not expected from
 * the clients measured here (ioredis writes arrays) and count as one per line.
 */
class RespCounter {
  #buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onCommand: (name: string) => void) {}

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const end = this.#parse(pos);
      if (end < 0) break;
      pos = end;
    }
    this.#buf = pos ? this.#buf.subarray(pos) : this.#buf;
  }

  /** Parses one command at `pos`; returns the offset after it, or -1 when incomplete. */
  #parse(pos: number): number {
    const buf = this.#buf;
    if (pos >= buf.length) return -1;
    const line = buf.indexOf("\r\n", pos);
    if (line < 0) return -1;
    if (buf[pos] !== 0x2a /* * */) {
      this.onCommand(buf.toString("latin1", pos, line).split(" ")[0]!.toUpperCase());
      return line + 2;
    }
    const n = Number(buf.toString("latin1", pos + 1, line));
    let at = line + 2;
    let name = "";
    for (let i = 0; i < n; i++) {
      const header = buf.indexOf("\r\n", at);
      if (header < 0) return -1;
      const len = Number(buf.toString("latin1", at + 1, header));
      const start = header + 2;
      if (start + len + 2 > buf.length) return -1;
      if (i === 0) name = buf.toString("latin1", start, start + len).toUpperCase();
      at = start + len + 2;
    }
    this.onCommand(name);
    return at;
  }
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const { hostname, port } = new URL(target);
  let commands = 0;
  let writes = 0;
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port || 6379) });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const counter = new RespCounter((name) => {
      commands++;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    });
    client.on("data", (chunk: Buffer) => {
      writes++;
      counter.push(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy: no port");
  return {
    url: `redis://127.0.0.1:${address.port}`,
    get commands() {
      return commands;
    },
    get writes() {
      return writes;
    },
    commandCount: (name) => counts.get(name.toUpperCase()) ?? 0,
    reset() {
      commands = 0;
      writes = 0;
      counts.clear();
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
