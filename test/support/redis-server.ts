/**
 * Spawns a throw-away `redis-server` for tests: a free port on 127.0.0.1, no persistence, a temp
 * working directory, killed on `stop()`. `restart()` brings it back on the same port (for "Redis
 * comes back" tests).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` (with the password when one was asked for). */
  url: string;
  port: number;
  /** Pid of the current server process (changes on restart). */
  pid: number;
  /** Kills the server (idempotent); `restart()` still works after it. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port, empty. */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  /** Port to use; default: a free one. */
  port?: number;
  /** Extra `redis-server` arguments, e.g. `["--requirepass", "secret"]`. */
  args?: string[];
  /** Password for PING while waiting (and put in the URL). */
  password?: string;
  /** How long to wait for the server to answer PING, default 10 s. */
  readyTimeoutMs?: number;
}

const BINARY = process.env.REDIS_SERVER_BIN ?? "redis-server";

/** Whether a `redis-server` executable is on PATH (or at `$REDIS_SERVER_BIN`). */
export function hasRedisServer(): boolean {
  return isExecutable(BINARY);
}

/** Whether `binary` (a path, or a name looked up on PATH) is an executable file. */
export function isExecutable(binary: string): boolean {
  const candidates = binary.includes("/")
    ? [binary]
    : (process.env.PATH ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, binary));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a redis-server; resolves once it answers PING. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const fixedPort = options.port;
  let port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "cashews-redis-"));
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        mkdirSync(dir, { recursive: true });
        child = await spawnServer(port, dir, options);
        return;
      } catch (error) {
        lastError = error;
        // Someone took the port between the probe and the bind: pick another (unless pinned).
        if (fixedPort === undefined && !server.started) port = await freePort();
        else await sleep(200);
      }
    }
    throw lastError;
  };

  const stopChild = async (): Promise<void> => {
    const current = child;
    child = undefined;
    if (current) await kill(current);
  };

  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  const server = {
    started: false,
    get url() {
      return `redis://${auth}127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child?.pid ?? -1;
    },
    async stop() {
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopChild();
      await launch();
    },
  };
  await launch();
  server.started = true;
  return server;
}

async function spawnServer(port: number, dir: string, options: StartRedisOptions): Promise<ChildProcess> {
  const child = spawn(
    BINARY,
    [
      "--port", String(port),
      "--bind", "127.0.0.1",
      "--save", "",
      "--appendonly", "no",
      "--dir", dir,
      "--daemonize", "no",
      "--loglevel", "warning",
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  spawnError.catch(() => {});
  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (exited) throw new Error(`redis-server on port ${port} exited: ${stderr.trim()}`);
    const reply = await Promise.race([ping(port, options.password), spawnError]).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).syscall === "spawn") throw error;
      return undefined;
    });
    // The port may answer for another process: make sure ours is still alive.
    if (reply === "+PONG" && !exited) return child;
    await sleep(25);
  }
  await kill(child);
  throw new Error(`redis-server on port ${port} did not answer PING in time: ${stderr.trim()}`);
}

/** Sends PING (after AUTH when a password is given) over a raw socket; resolves the last reply line. */
function ping(port: number, password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    let data = "";
    const expected = password ? 2 : 1;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("PING timed out"));
    }, 1000);
    socket.on("connect", () => {
      socket.write(password ? `AUTH ${password}\r\nPING\r\n` : "PING\r\n");
    });
    socket.on("data", (chunk) => {
      data += chunk.toString();
      const lines = data.split("\r\n").filter(Boolean);
      if (lines.length >= expected) {
        clearTimeout(timer);
        socket.destroy();
        resolve(lines[expected - 1]!);
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
