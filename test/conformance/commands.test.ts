// Runs the command conformance suite against every backend and codec configuration.
import { inject } from "vitest";
import { commandSuite } from "./commands.js";
import { upstashTarget } from "../support/backends.js";

const redisUrl = inject("redisUrl");
const redisClusterUrl = inject("redisClusterUrl");

commandSuite({ name: "mem:// (live values)", url: () => "mem://" });
commandSuite({ name: "mem:// (serialize)", url: () => "mem://?serialize=1" });
commandSuite({ name: "mem:// (secret)", url: () => "mem://", options: { secret: "s3cret" } });
commandSuite({ name: "redis://", url: () => redisUrl, options: { namespace: "conf" } });
commandSuite({ name: "redis:// (secret)", url: () => redisUrl, options: { namespace: "conf-signed", secret: "s3cret" } });
commandSuite({ name: "redis:// (clientSide)", url: () => redisUrl, options: { namespace: "conf-cs", clientSide: true } });
commandSuite({ name: "redis:// (clientSide, secret)", url: () => redisUrl, options: { namespace: "conf-cs-signed", clientSide: true, secret: "s3cret" } });
commandSuite({ name: "redis+cluster://", url: () => redisClusterUrl, options: { namespace: "conf" } });
commandSuite({ name: "redis+cluster:// (secret)", url: () => redisClusterUrl, options: { namespace: "conf-signed", secret: "s3cret" } });

/** One local Upstash-compatible REST server (in front of the shared redis-server) per suite. */
const upstash = (options: Record<string, unknown>) => upstashTarget(redisUrl, options);
commandSuite({ name: "upstash://", ...upstash({ namespace: "conf-up" }) });
commandSuite({ name: "upstash:// (secret)", ...upstash({ namespace: "conf-up-signed", secret: "s3cret" }) });
