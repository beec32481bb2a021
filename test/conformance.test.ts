// Runs the command conformance suite against every backend and codec configuration.
import { inject } from "vitest";
import { commandSuite } from "./conformance/commands.js";

const redisUrl = inject("redisUrl");

commandSuite({ name: "mem:// (live values)", url: () => "mem://" });
commandSuite({ name: "mem:// (serialize)", url: () => "mem://?serialize=1" });
commandSuite({ name: "mem:// (secret)", url: () => "mem://", options: { secret: "s3cret" } });
commandSuite({ name: "redis://", url: () => redisUrl, options: { namespace: "conf" } });
commandSuite({ name: "redis:// (secret)", url: () => redisUrl, options: { namespace: "conf-signed", secret: "s3cret" } });
