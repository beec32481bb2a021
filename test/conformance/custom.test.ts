// The conformance suite (cashews/testing) on a backend defined the public way (defineBackend and
// registerBackend): runtimes/shared/map-backend.ts, a Map behind a simulated network delay with no
// atomic operation and no lock. Every test that needs what it lacks must be refused with a
// CacheCapabilityError; the rest must pass as on any other backend. Without listing (no `keys`),
// the suite cannot clear the store and gives each test a fresh namespace instead.
import { randomUUID } from "node:crypto";
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
