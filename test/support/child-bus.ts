/**
 * A process with one Upstash invalidation bus, for the cross-process bus tests. Env: BUS_URL,
 * BUS_TOKEN, BUS_CHANNEL. Prints `connected <true|false>` and `invalidate <json>` lines; reads
 * `publish <json>` and `close` lines on stdin.
 */
import { createInterface } from "node:readline";
import { createUpstashBus } from "../../src/backends/upstash/bus.js";

const bus = createUpstashBus({
  url: process.env.BUS_URL!,
  token: process.env.BUS_TOKEN!,
  channel: process.env.BUS_CHANNEL!,
  heartbeatMs: 0,
});
await bus.start({
  invalidate: (message) => process.stdout.write(`invalidate ${JSON.stringify(message)}\n`),
  connected: (up) => process.stdout.write(`connected ${up}\n`),
});
for await (const line of createInterface({ input: process.stdin })) {
  if (line.startsWith("publish ")) bus.publish(JSON.parse(line.slice(8)));
  else if (line === "close") break;
}
await bus.close();
process.exit(0);
