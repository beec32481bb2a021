// The conformance suite (cashews/testing, src/testing/) on the shared test redis-server: plain,
// signed, with client-side caching, and both (each in its own namespace).
import { inject } from "vitest";
import { conformanceSuite } from "../../src/testing/index.js";

const redisUrl = inject("redisUrl");

conformanceSuite({ name: "redis://", url: () => redisUrl, options: { namespace: "conf" } });
conformanceSuite({ name: "redis:// (secret)", url: () => redisUrl, options: { namespace: "conf-signed", secret: "s3cret" } });
conformanceSuite({ name: "redis:// (clientSide)", url: () => redisUrl, options: { namespace: "conf-cs", clientSide: true } });
conformanceSuite({ name: "redis:// (clientSide, secret)", url: () => redisUrl, options: { namespace: "conf-cs-signed", clientSide: true, secret: "s3cret" } });
