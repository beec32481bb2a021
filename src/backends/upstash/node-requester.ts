/**
 * The Upstash backend's HTTP requests on Node through `node:http` / `node:https` with a keep-alive
 * agent, in place of `fetch` (undici): in Node 20 a request costs this process about half the CPU
 * time, so a call waits less (bench/results/ratelimit.md). Only on Node itself: Bun, Deno and
 * Workers (also with `nodejs_compat`) keep `fetch`, which is their native client. The module is
 * reached through `process.getBuiltinModule` (Node ≥ 20.16), so no bundler sees a Node import.
 *
 * It speaks what the @upstash/redis requester speaks (the same request, headers and replies): a
 * `POST` of the JSON body with the bearer token and `Upstash-Encoding: base64`, the
 * `upstash-sync-token` of the last reply sent back (read your writes), results base64-decoded as
 * @upstash/redis decodes them; a reply that is not 2xx throws its `error`; a network failure is
 * retried `retries` times, `backoffMs` apart, unless the request's signal aborted, and an abort
 * rejects with the signal's reason (a `TimeoutError` for `AbortSignal.timeout`).
 * @internal
 * @module
 */

/** What the backend calls: the @upstash/redis requester's `request`. */
export interface Requester {
  request(req: { path?: string[]; body?: unknown; signal?: unknown }): Promise<unknown>;
}

interface Incoming {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  setEncoding(encoding: string): void;
  on(event: string, listener: (arg?: unknown) => void): void;
}

interface Outgoing {
  on(event: string, listener: (arg?: unknown) => void): void;
  destroy(): void;
  end(body: Uint8Array): void;
}

interface HttpModule {
  Agent: new (options: { keepAlive: boolean }) => unknown;
  request(url: string, options: Record<string, unknown>, callback: (res: Incoming) => void): Outgoing;
}

interface NodeProcess {
  release?: { name?: string };
  versions?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

/** Node itself: not Bun, Deno or workerd (which answer to `process` too). */
function nodeHttpOf(https: boolean): HttpModule | undefined {
  const global = globalThis as { process?: NodeProcess; Deno?: unknown; navigator?: { userAgent?: string } };
  const proc = global.process;
  if (proc?.release?.name !== "node" || typeof proc.getBuiltinModule !== "function") return undefined;
  if (proc.versions?.bun !== undefined || global.Deno !== undefined || global.navigator?.userAgent === "Cloudflare-Workers") return undefined;
  return proc.getBuiltinModule(https ? "node:https" : "node:http") as HttpModule | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A requester on `node:http(s)` for `baseUrl` (`http(s)://host[:port]`), or `undefined` where
 * `fetch` is the runtime's own client (not Node).
 */
export function nodeRequester(baseUrl: string, token: string, retries: number, backoffMs: number): Requester | undefined {
  const http = nodeHttpOf(baseUrl.startsWith("https:"));
  if (http === undefined) return undefined;
  const agent = new http.Agent({ keepAlive: true });
  let syncToken = "";

  const once = (url: string, body: Uint8Array, signal: AbortSignal | undefined): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const headers: Record<string, string> = {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "content-length": String(body.byteLength),
        "upstash-encoding": "base64",
      };
      if (syncToken !== "") headers["upstash-sync-token"] = syncToken;
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      };
      const req = http.request(url, { method: "POST", agent, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          text += chunk as string;
        });
        res.on("error", fail);
        res.on("end", () => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          const sync = res.headers["upstash-sync-token"];
          if (typeof sync === "string") syncToken = sync;
          resolve({ status: res.statusCode ?? 0, text });
        });
      });
      const onAbort = (): void => {
        fail(signal!.reason);
        req.destroy();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", fail);
      req.end(body);
    });

  return {
    async request(req) {
      const url = [baseUrl, ...(req.path ?? [])].join("/");
      const payload = JSON.stringify(req.body);
      const body = encoder.encode(payload);
      const signal = (typeof req.signal === "function" ? (req.signal as () => AbortSignal)() : req.signal) as AbortSignal | undefined;
      let res: { status: number; text: string };
      for (let attempt = 0; ; attempt++) {
        try {
          res = await once(url, body, signal);
          break;
        } catch (error) {
          if (signal?.aborted || attempt >= retries) throw error;
          await sleep(backoffMs);
        }
      }
      let parsed: { result?: unknown; error?: string } | { result?: unknown; error?: string }[];
      try {
        parsed = JSON.parse(res.text) as typeof parsed;
      } catch (cause) {
        throw new Error(`the reply is not JSON (HTTP ${res.status}): ${res.text.slice(0, 200)}`, { cause });
      }
      if (res.status < 200 || res.status >= 300) {
        throw new Error(`${Array.isArray(parsed) ? "" : String(parsed.error)}, command was: ${payload}`);
      }
      if (Array.isArray(parsed)) return parsed.map(({ result, error }) => ({ result: decode(result), error }));
      return { result: decode(parsed.result), error: parsed.error };
    },
  };
}

/** A result as @upstash/redis decodes it with `Upstash-Encoding: base64`. */
function decode(raw: unknown): unknown {
  switch (typeof raw) {
    case "undefined":
    case "number":
      return raw;
    case "string":
      return raw === "OK" ? "OK" : base64(raw);
    case "object":
      return Array.isArray(raw) ? raw.map((v: unknown) => (typeof v === "string" ? base64(v) : Array.isArray(v) ? v.map(decode) : v)) : null;
    default:
      return undefined;
  }
}

/** UTF-8 text of base64 `b64` (itself when it is not base64, as @upstash/redis does). */
function base64(b64: string): string {
  try {
    const binary = atob(b64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return decoder.decode(bytes);
  } catch {
    return b64;
  }
}
