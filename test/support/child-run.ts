/**
 * Spawns `test/support/child-stampede.ts` processes and drives their line protocol
 * (`ready` → a line on stdin releases them → `result <json>`), for the cross-process lock tests
 * and `bench/stampede.ts`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const script = fileURLToPath(new URL("./child-stampede.ts", import.meta.url));

export interface Child {
  process: ChildProcess;
  /** Resolves once the child printed `ready` (connected, waiting at the barrier). */
  ready: Promise<void>;
  /** Resolves with the first line that starts with `prefix` (without the prefix). */
  line(prefix: string): Promise<string>;
  /** Resolves with the parsed `result` line; rejects if the child exits without one. */
  result: Promise<Record<string, unknown>>;
  /** Releases the child from the barrier. */
  go(): void;
  /** Everything the child wrote (stdout and stderr), for failure messages. */
  output(): string;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  const listeners: (() => void)[] = [];
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const listener of [...listeners]) listener();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const line = (prefix: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = out.split("\n").slice(0, -1).find((l) => l.startsWith(prefix));
        if (found === undefined) return false;
        resolve(found.slice(prefix.length).trim());
        return true;
      };
      if (check()) return;
      const listener = (): void => {
        if (check()) listeners.splice(listeners.indexOf(listener), 1);
      };
      listeners.push(listener);
      void exited.then((code) => {
        if (!check()) reject(new Error(`child exited (${code}) before printing "${prefix}":\n${out}`));
      });
    });
  const result = line("result ").then((json) => JSON.parse(json) as Record<string, unknown>);
  result.catch(() => {});
  const ready = line("ready").then(() => undefined);
  ready.catch(() => {});
  return {
    process: child,
    ready,
    line,
    result,
    go: () => child.stdin.write("go\n"),
    output: () => out,
    kill: (signal = "SIGKILL") => void child.kill(signal),
  };
}

/** Starts `count` children, waits until all are ready, releases them together, returns their results. */
export async function runChildren(
  count: number,
  env: (index: number) => Record<string, string>,
  beforeGo?: () => Promise<void>,
): Promise<Record<string, unknown>[]> {
  const children = Array.from({ length: count }, (_, i) => spawnChild(env(i)));
  try {
    await Promise.all(children.map((c) => c.ready));
    await beforeGo?.();
    for (const c of children) c.go();
    return await Promise.all(children.map((c) => c.result));
  } finally {
    for (const c of children) if (c.process.exitCode === null) c.kill();
  }
}

/** Calls per command from `INFO commandstats` (lower-case names; `CONFIG RESETSTAT` zeroes them). */
export function parseCommandStats(info: string): Record<string, number> {
  const stats: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats[match[1]!] = Number(match[2]);
  return stats;
}
