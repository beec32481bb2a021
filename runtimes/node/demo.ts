// The demo behind `npm start`: caching on the embedded mem:// default, or Redis with REDIS_URL.
import { Cache } from "../../src/index.js";

const url = process.env.REDIS_URL ?? process.env.CACHE_URL ?? "mem://";
const cache = new Cache("demo").setup(url, url.startsWith("mem") ? {} : { namespace: "cashews-demo" });

cache.on("error", (e) => console.error(`  ! backend error: ${String((e.error as Error)?.message ?? e.error)}`));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A slow "database" call. */
const getUser = cache({ ttl: "30s", key: "user:{id}" })(async function getUser(id: number) {
  await sleep(300);
  return { id, name: ["Ada", "Grace", "Edsger"][id % 3], loadedAt: new Date().toISOString() };
});

async function timed(label: string, id: number): Promise<void> {
  const started = performance.now();
  const user = await getUser(id);
  const ms = performance.now() - started;
  const left = await cache.getExpire(`user:${id}`);
  const ttl = left >= 0 ? `${(left / 1000).toFixed(1)}s left` : left === -1 ? "no expiry" : "not stored";
  console.log(`${label.padEnd(22)} ${ms.toFixed(1).padStart(7)} ms  key user:${id} (${ttl})  ${JSON.stringify(user)}`);
}

console.log(`cashews demo on ${url.replace(/\/\/[^@]*@/, "//***@")}\n`);
await cache.delete("user:1");
await timed("first call (miss)", 1);
await timed("second call (hit)", 1);
await sleep(1000);
await timed("a second later (hit)", 1);
await timed("another user (miss)", 2);
const stats = cache.stats();
console.log(`\nstats: ${stats.hits} hits, ${stats.misses} misses, ${stats.sets} sets`);
await cache.close();
