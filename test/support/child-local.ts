/**
 * A process with one cache on upstash:// with a local tier, for the cross-process local-tier tests
 * (test/backends/local/processes.test.ts). Env: LOCAL_URL (an `upstash+http://` URL), LOCAL_TOKEN,
 * LOCAL_NAMESPACE, LOCAL_TTL_MS. Reads JSON commands on stdin, one per line; writes JSON lines:
 *
 * - `{op:"set"|"delete", key, value?}` → `{op, key, at}` (`at`: `Date.now()` once acknowledged)
 * - `{op:"get", key}` → `{op, key, value, local}` (`local`: the copy held the key before the read)
 * - `{op:"watch", key, value}` → reads `key` in a loop until it is `value` (null: missing), then
 *   `{op:"seen", key, at, localReads}` (`localReads`: reads of the old value served by the copy)
 * - `{op:"reads", keys, ms}` → reads the keys round robin for `ms`, a line per read:
 *   `{op:"read", key, value, started, local}`, then `{op:"reads-done"}`
 * - `{op:"writes", keys, ms, every}` → writes versions 1, 2, … round robin every `every` ms for
 *   `ms`, a line per acknowledged write `{op:"wrote", key, version, at}`, then `{op:"writes-done"}`
 * - `{op:"state"}` → `{op, armed, size}`; `{op:"armed-watch"}` → `{op:"armed", value, at}` now
 *   and at every change of whether the copy is in use (checked every millisecond)
 * - `{op:"close"}` closes the cache and exits.
 */
import { createInterface } from "node:readline";
import { Cache } from "../../src/index.js";
import type { LocalTier } from "../../src/backends/local/tier.js";

const cache = new Cache("child-local").setup(process.env.LOCAL_URL!, {
  token: process.env.LOCAL_TOKEN!,
  namespace: process.env.LOCAL_NAMESPACE!,
  local: { ttl: Number(process.env.LOCAL_TTL_MS ?? 60_000) },
  timeout: 300,
  safe: false, // a failed command throws: a write that failed is never reported as done
});
const tier = (await cache.route("").start()) as unknown as LocalTier;
const out = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Whether the copy holds `key` now (a read would be served without I/O). */
const held = (key: string): boolean => tier.local.raw(key) !== undefined;
const read = async (key: string): Promise<unknown> => (await cache.get(key)) ?? null;

type Command = { op: string; key: string; value?: unknown; keys: string[]; ms: number; every: number };

async function run(command: Command): Promise<void> {
  const { op, key } = command;
  if (op === "set") {
    await cache.set(key, command.value, { expire: "10m" });
    out({ op, key, at: Date.now() });
  } else if (op === "delete") {
    await cache.delete(key);
    out({ op, key, at: Date.now() });
  } else if (op === "get") {
    const local = held(key);
    out({ op, key, value: await read(key), local });
  } else if (op === "watch") {
    let localReads = 0;
    for (;;) {
      const local = held(key);
      const value = await read(key).catch(() => undefined);
      if (value === command.value) break;
      if (local) localReads++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    out({ op: "seen", key, at: Date.now(), localReads });
  } else if (op === "reads") {
    const end = Date.now() + command.ms;
    for (let n = 0; Date.now() < end; n++) {
      const k = command.keys[n % command.keys.length]!;
      const started = Date.now();
      const local = held(k);
      try {
        out({ op: "read", key: k, value: await read(k), started, local });
      } catch {
        // an error (the store is down) is not a stale value
      }
      await sleep(1);
    }
    out({ op: "reads-done" });
  } else if (op === "writes") {
    const end = Date.now() + command.ms;
    for (let version = 1; Date.now() < end; version++) {
      const k = command.keys[version % command.keys.length]!;
      try {
        await cache.set(k, version, { expire: "10m" });
        out({ op: "wrote", key: k, version, at: Date.now() });
      } catch {
        // the store is down: nothing changed
      }
      await sleep(command.every);
    }
    out({ op: "writes-done" });
  } else if (op === "armed-watch") {
    let last: boolean | undefined;
    for (;;) {
      const armed = tier.local.armed;
      if (armed !== last) out({ op: "armed", value: (last = armed), at: Date.now() });
      await sleep(1);
    }
  } else if (op === "state") {
    out({ op, armed: tier.local.armed, size: tier.local.size });
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as Command;
  if (command.op === "close") break;
  // Long-running commands run alongside later ones (a reader keeps reading while state is asked).
  void run(command).catch((error: unknown) => out({ op: "error", message: String(error) }));
}
await cache.close();
process.exit(0);
