// A real Workers KV namespace for tests: miniflare's KV (workerd), reached from Node through
// miniflare's binding proxy. One workerd per call; `stop` disposes of it.
import { Miniflare } from "miniflare";
import type { KvNamespaceLike } from "../../src/cloudflare-kv.js";
import { COMPATIBILITY_DATE } from "./workerd.js";

export interface KvServer {
  mf: Miniflare;
  /** The KV namespace bound as `names[0]`. */
  kv: KvNamespaceLike;
  /** Every bound KV namespace, by binding name. */
  bindings: Record<string, KvNamespaceLike>;
  stop(): Promise<void>;
}

/** Starts workerd with KV namespaces bound as `names` (default `["KV"]`); `persist`: a directory shared with other instances. */
export async function startKv(names: readonly string[] = ["KV"], persist?: string): Promise<KvServer> {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response('ok') } }",
    kvNamespaces: [...names],
    compatibilityDate: COMPATIBILITY_DATE,
    ...(persist === undefined ? {} : { kvPersist: persist }),
  });
  await mf.ready;
  const bindings: Record<string, KvNamespaceLike> = {};
  for (const name of names) bindings[name] = (await mf.getKVNamespace(name)) as unknown as KvNamespaceLike;
  return { mf, kv: bindings[names[0]!]!, bindings, stop: () => mf.dispose() };
}
