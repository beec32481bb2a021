// A Web Worker (another isolate of the same Deno process) that runtimes/deno/deno-kv.test.ts
// starts to show the BroadcastChannel bus of deno-kv:// with `local`: it sets up its own cache on
// the URL main sends, then runs main's commands (set, delete) through it and answers each with
// { done: n } (or { error }). Its local tier publishes every change; main's copy must drop it.
import { Cache } from "../../src/index.js";
import "../../src/deno-kv.js";

/** A command from main. */
type Command = { n: number; op: "setup"; url: string; namespace: string } | { n: number; op: "set"; key: string; value: string } | { n: number; op: "delete"; key: string } | { n: number; op: "close" };

interface WorkerScope {
  onmessage: ((event: { data: Command }) => void) | null;
  postMessage(message: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;
let cache: Cache | undefined;

async function run(command: Command): Promise<void> {
  switch (command.op) {
    case "setup":
      cache = new Cache("worker").setup(command.url, { namespace: command.namespace, safe: false });
      await cache.init();
      return;
    case "set":
      await cache!.set(command.key, command.value, { expire: "10m" });
      return;
    case "delete":
      await cache!.delete(command.key);
      return;
    case "close":
      await cache?.close();
      cache = undefined;
  }
}

scope.onmessage = (event) => {
  const command = event.data;
  run(command).then(
    () => scope.postMessage({ done: command.n }),
    (error: unknown) => scope.postMessage({ done: command.n, error: String((error as Error)?.stack ?? error) }),
  );
};
