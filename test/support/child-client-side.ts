/**
 * One process with a `redis://…?clientSide=1` cache, driven over IPC by
 * test/backends/redis/client-side.test.ts: `{ id, op, key?, value? }` → `{ id, result }` / `{ id, error }`.
 * Ops: get (→ { value, local }: whether the read was served by the local copy), set, delete,
 * state (→ { armed, size }), close.
 */
import { Cache } from "../../src/index.js";
import { stateOf } from "../../src/core/state.js";
import "../../src/redis.js";
import { MISSING } from "../../src/backends/types.js";

const cache = new Cache("child").setup(process.env.REDIS_URL!, { clientSide: true, namespace: process.env.NAMESPACE ?? "cs" });
await cache.init();
const backend = (): any => stateOf(cache).routes[0]!.backend;

const ops: Record<string, (message: any) => Promise<unknown>> = {
  async get({ key }) {
    const local = backend()?.peek(key) !== MISSING;
    return { value: (await cache.get(key)) ?? null, local };
  },
  async set({ key, value }) {
    return cache.set(key, value, { expire: "1h" });
  },
  async delete({ key }) {
    return cache.delete(key);
  },
  async state() {
    return backend().clientSideState();
  },
  async close() {
    await cache.close();
    setImmediate(() => process.exit(0));
    return true;
  },
};

process.on("message", (message: any) => {
  ops[message.op]!(message).then(
    (result) => process.send!({ id: message.id, result }),
    (error: unknown) => process.send!({ id: message.id, error: String(error) }),
  );
});
process.send!({ ready: true });
