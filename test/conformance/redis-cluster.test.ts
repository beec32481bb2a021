// The conformance suite (cashews/testing, src/testing/) on the shared local Redis Cluster, plain
// and signed; networkConformanceSuite also fails if two caches on it do not share values.
import { inject } from "vitest";
import { networkConformanceSuite } from "../support/backends.js";

const redisClusterUrl = inject("redisClusterUrl");

networkConformanceSuite({ name: "redis+cluster://", url: () => redisClusterUrl, options: { namespace: "conf" } });
networkConformanceSuite({ name: "redis+cluster:// (secret)", url: () => redisClusterUrl, options: { namespace: "conf-signed", secret: "s3cret" } });
