// The conformance suite (cashews/testing, src/testing/) on upstash://, plain and signed: one local
// Upstash-compatible REST server (in front of the shared redis-server) per suite.
import { inject } from "vitest";
import { conformanceSuite } from "../../src/testing/index.js";
import { upstashTarget } from "../support/backends.js";

const redisUrl = inject("redisUrl");

conformanceSuite({ name: "upstash://", ...upstashTarget(redisUrl, { namespace: "conf-up" }) });
conformanceSuite({ name: "upstash:// (secret)", ...upstashTarget(redisUrl, { namespace: "conf-up-signed", secret: "s3cret" }) });
