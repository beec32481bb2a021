// The conformance suite (cashews/testing, src/testing/) on the shared test redis-server: plain,
// signed, with client-side caching, and both (each in its own namespace); networkConformanceSuite
// also fails if two caches on it do not share values.
import { inject } from "vitest";
import { networkConformanceSuite } from "../support/backends.js";

const redisUrl = inject("redisUrl");

networkConformanceSuite({ name: "redis://", url: () => redisUrl, options: { namespace: "conf" } });
networkConformanceSuite({ name: "redis:// (secret)", url: () => redisUrl, options: { namespace: "conf-signed", secret: "s3cret" } });
networkConformanceSuite({ name: "redis:// (clientSide)", url: () => redisUrl, options: { namespace: "conf-cs", clientSide: true } });
networkConformanceSuite({ name: "redis:// (clientSide, secret)", url: () => redisUrl, options: { namespace: "conf-cs-signed", clientSide: true, secret: "s3cret" } });
