// The conformance suite (cashews/testing, src/testing/) on deno-kv://, plain and signed, on Node
// through @deno/kv: each suite on its own SQLite database file in a fresh temporary directory
// (removed after). Every cache of a suite opens the file itself, so networkConformanceSuite's
// check that two caches share values is a check across two KV connections to one database.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../src/deno-kv.js";
import type { ConformanceTarget } from "../../src/testing/target.js";
import { networkConformanceSuite } from "../support/backends.js";

/** A deno-kv:// target on a database file of its own. */
function denoKvTarget(name: string, options: Record<string, unknown>): ConformanceTarget {
  return {
    name,
    url: () => "deno-kv://started-in-beforeAll",
    start: async () => {
      const dir = mkdtempSync(join(tmpdir(), "cashews-denokv-conf-"));
      return {
        url: `deno-kv://${join(dir, "cache.db")}`,
        options,
        stop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
}

networkConformanceSuite(denoKvTarget("deno-kv://", { namespace: "conf-dkv" }));
networkConformanceSuite(denoKvTarget("deno-kv:// (secret)", { namespace: "conf-dkv-signed", secret: "s3cret" }));
