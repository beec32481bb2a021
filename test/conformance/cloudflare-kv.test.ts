// The conformance suite (cashews/testing, src/testing/) on cloudflare-kv://, plain and signed: one
// real Workers KV namespace (miniflare's, in workerd) per suite, reached through its binding proxy.
import "../../src/cloudflare-kv.js";
import { conformanceSuite } from "../../src/testing/index.js";
import { startKv } from "../support/kv.js";

const start = async (): Promise<{ options: Record<string, unknown>; stop: () => Promise<void> }> => {
  const server = await startKv(["KV"]);
  return { options: { binding: server.kv }, stop: server.stop };
};

conformanceSuite({ name: "cloudflare-kv://", url: () => "cloudflare-kv://KV", start });
conformanceSuite({ name: "cloudflare-kv:// (secret)", url: () => "cloudflare-kv://KV", options: { secret: "s3cret" }, start });
