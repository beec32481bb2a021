// The Worker that test/workers/workers.test.ts bundles and runs in workerd (through miniflare), with
// `nodejs_compat` and with no compatibility flag (no async context). Its handlers are wrapped with
// `withCache` from src/workers.ts, which sets the default `cache` up from the bindings on the
// first event. Paths under /raw/ bypass `withCache` (the control: what happens without it).
//
// The `early` function below is fast on its first call and slow (SLOW_MS) on every refresh, and it
// records in isolate state how many computations started and which one finished last: a response
// can so say whether a background refresh had finished when it was produced.
import { cache, createContextStore } from "../../src/index.js";
import { withCache, type SetupResult } from "../../src/workers.js";
import { sleep, versionedEarly, type EarlyState } from "./early-fixture.js";

interface Env {
  /** JSON of what setup(env) returns (the bad-setup tests), or "undefined". Unset: the list below. */
  SETUP?: string;
  /** `upstash+http://127.0.0.1:PORT` of the test's Upstash-compatible REST server (unset: no upstash entry). */
  UPSTASH_URL?: string;
  UPSTASH_TOKEN?: string;
  /** The upstash entry's key namespace (one per test run and variant). */
  UPSTASH_NAMESPACE?: string;
}

interface Ctx {
  waitUntil(promise: Promise<unknown>): void;
}

interface QueueMessage {
  body: { id: string };
  ack(): void;
}


let setupCalls = 0;

interface State extends EarlyState {
  /** What the handler that triggered the refresh saw when it returned (scheduled, queue). */
  returned?: { value: number; done: number };
}
/** `req` labels (else ids) of requests whose fetch handler has returned (the concurrency test waits for one). */
const finished = new Set<string>();

const { stateOf, versioned } = versionedEarly<State>(cache, () => ({ started: 0, done: 0 }));

function setup(env: Env): SetupResult {
  setupCalls++;
  if (env.SETUP !== undefined) return env.SETUP === "undefined" ? (undefined as never) : (JSON.parse(env.SETUP) as SetupResult);
  return [
    ["mem://", {}],
    ["mem://?size=100", { prefix: "small:" }],
    ...(env.UPSTASH_URL ? [[env.UPSTASH_URL, { prefix: "up:", token: env.UPSTASH_TOKEN, namespace: env.UPSTASH_NAMESPACE }] as const] : []),
  ];
}

function info(extra: Record<string, unknown> = {}): Response {
  return Response.json({
    setupCalls,
    isSetup: cache.isSetup(),
    asyncContext: createContextStore().async,
    ...extra,
  });
}

async function early(url: URL): Promise<Response> {
  const id = url.searchParams.get("id")!;
  // Wait until another request's handler has returned (its ctx is then a finished request's).
  const after = url.searchParams.get("after");
  if (after !== null) {
    for (let i = 0; i < 200 && !finished.has(after); i++) await sleep(10);
    if (!finished.has(after)) return Response.json({ error: `${after} never finished` }, { status: 500 });
  }
  const value = await versioned(id);
  const state = stateOf(id);
  finished.add(url.searchParams.get("req") ?? id);
  return Response.json({ value, started: state.started, done: state.done });
}

/** The control: the same calls without withCache (nothing binds waitUntil). */
async function raw(url: URL): Promise<Response> {
  if (url.pathname === "/raw/early") {
    if (!cache.isSetup()) cache.setup("mem://");
    return early(url);
  }
  if (url.pathname === "/raw/state") return Response.json(stateOf(url.searchParams.get("id")!));
  return info();
}

const handler = {
  label: "withcache-test",
  describe(): string {
    return `handler ${this.label}`;
  },

  async fetch(request: Request, env: Env, ctx: Ctx): Promise<Response> {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/info":
        return info({ self: this.describe(), waitUntil: typeof ctx.waitUntil });
      case "/early":
        return early(url);
      case "/state":
        return Response.json(stateOf(url.searchParams.get("id")!));
      case "/routes": {
        const keys = ["plain", "small:k", "up:k"];
        const routes = keys.map((key) => cache.route(key).label);
        const stamp = url.searchParams.get("stamp") ?? "";
        for (const key of keys) await cache.set(key, `${key}@${stamp}`, { expire: "1m" });
        return Response.json({ routes, values: await cache.getMany(keys), stats: cache.stats() });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },

  async scheduled(controller: { cron: string }, env: Env, ctx: Ctx): Promise<void> {
    const id = controller.cron;
    const value = await versioned(id);
    stateOf(id).returned = { value, done: stateOf(id).done };
  },

  async queue(batch: { queue: string; messages: readonly QueueMessage[] }, env: Env, ctx: Ctx): Promise<void> {
    for (const message of batch.messages) {
      const { id } = message.body;
      const value = await versioned(id);
      stateOf(id).returned = { value, done: stateOf(id).done };
      message.ack();
    }
  },
};

const wrapped = withCache({ setup }, handler);

/** Whose ctx.waitUntil each background promise was handed to, in order (GET /handovers takes them). */
const handovers: string[] = [];
/** The runtime's ctx, logging each waitUntil under the name of the event it belongs to. */
const logged = (ctx: Ctx, owner: string): Ctx => ({
  waitUntil(promise: Promise<unknown>): void {
    handovers.push(owner);
    ctx.waitUntil(promise);
  },
});

export default {
  fetch(request: Request, env: Env, ctx: Ctx): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/raw/")) return raw(url);
    if (url.pathname === "/handovers") return Promise.resolve(Response.json(handovers.splice(0)));
    return wrapped.fetch(request, env, logged(ctx, url.searchParams.get("req") ?? "fetch"));
  },
  scheduled(controller: { cron: string }, env: Env, ctx: Ctx): Promise<void> {
    return wrapped.scheduled(controller, env, logged(ctx, `scheduled:${controller.cron}`));
  },
  queue(batch: { queue: string; messages: readonly QueueMessage[] }, env: Env, ctx: Ctx): Promise<void> {
    return wrapped.queue(batch, env, logged(ctx, `queue:${batch.queue}`));
  },
};
