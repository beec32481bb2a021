// The conformance suite (cashews/testing, src/testing/) on the shared local Redis Cluster, plain
// and signed.
import { inject } from "vitest";
import { conformanceSuite } from "../../src/testing/index.js";

const redisClusterUrl = inject("redisClusterUrl");

conformanceSuite({ name: "redis+cluster://", url: () => redisClusterUrl, options: { namespace: "conf" } });
conformanceSuite({ name: "redis+cluster:// (secret)", url: () => redisClusterUrl, options: { namespace: "conf-signed", secret: "s3cret" } });
