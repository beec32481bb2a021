// The conformance suite (cashews/testing) on a backend defined the public way (defineBackend and
// registerBackend): runtimes/shared/map-backend.ts, a Map behind a simulated network delay with no
// atomic operation and no lock. Every test that needs what it lacks must be refused with a
// CacheCapabilityError; the rest must pass as on any other backend. Without listing (no `keys`),
// the suite cannot clear the store and gives each test a fresh namespace instead.
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { conformanceSuite } from "../../src/testing/index.js";
import { registerMapBackend } from "../../runtimes/shared/map-backend.js";

registerMapBackend();

conformanceSuite({ name: "map:// (custom, listing)", url: () => "map://?delay=1ms", options: { namespace: "conf-map" } });
conformanceSuite({
  name: "map:// (custom, no listing, secret)",
  url: () => "map://?delay=1ms&listing=0",
  options: { namespace: "conf-map-nolist", secret: "s3cret" },
  fresh: () => ({ namespace: `conf-map-${randomUUID()}` }),
});

// The README's own example ("Backends anyone can add"), run as written: its first ```ts block that
// registers "tiny", with "cashews" pointed at the sources.
const root = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(`${root}README.md`, "utf8");
const block = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).find((code) => code.includes('registerBackend("tiny"'));
if (block === undefined) throw new Error("README.md: the tiny:// backend example is missing");
mkdirSync(`${root}.tmp`, { recursive: true });
const file = `${root}.tmp/readme-tiny-backend-${process.pid}.ts`;
writeFileSync(file, block.replace('from "cashews";', `from ${JSON.stringify(`${root}src/index.ts`)};`));
try {
  await import(/* @vite-ignore */ file);
} finally {
  rmSync(file, { force: true });
}

conformanceSuite({ name: "tiny:// (the README's example)", url: () => "tiny://" });
