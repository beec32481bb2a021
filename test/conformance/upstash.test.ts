// The conformance suite (cashews/testing, src/testing/) on upstash://, plain and signed: one local
// Upstash-compatible REST server (in front of the shared redis-server) per suite;
// networkConformanceSuite also fails if two caches on it do not share values.
import { inject } from "vitest";
import { networkConformanceSuite, upstashTarget } from "../support/backends.js";

const redisUrl = inject("redisUrl");

networkConformanceSuite({ name: "upstash://", ...upstashTarget(redisUrl, { namespace: "conf-up" }) });
networkConformanceSuite({ name: "upstash:// (secret)", ...upstashTarget(redisUrl, { namespace: "conf-up-signed", secret: "s3cret" }) });
