import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileGlob, escapeGlob } from "../../src/backends/glob.js";

const match = (pattern: string, key: string): boolean => compileGlob(pattern)(key);

describe("compileGlob", () => {
  it("handles literals, * and ?", () => {
    expect(match("abc", "abc")).toBe(true);
    expect(match("abc", "abcd")).toBe(false);
    expect(match("a*", "a")).toBe(true);
    expect(match("a*", "abc")).toBe(true);
    expect(match("a*", "ba")).toBe(false);
    expect(match("*c", "abc")).toBe(true);
    expect(match("*b*", "abc")).toBe(true);
    expect(match("*b*", "ac")).toBe(false);
    expect(match("a?c", "abc")).toBe(true);
    expect(match("a?c", "ac")).toBe(false);
    expect(match("a*b*c", "axxbyyc")).toBe(true);
    expect(match("a*b*c", "axxbyy")).toBe(false);
    expect(match("*", "")).toBe(true);
    expect(match("**", "")).toBe(true);
    expect(match("", "")).toBe(true);
    expect(match("?", "")).toBe(false);
    expect(match("a*?", "a")).toBe(false);
  });

  it("handles sets, negation, ranges and escapes like Redis", () => {
    expect(match("[abc]", "b")).toBe(true);
    expect(match("[abc]", "d")).toBe(false);
    expect(match("[^abc]", "d")).toBe(true);
    expect(match("[^abc]", "a")).toBe(false);
    expect(match("[!a]", "!")).toBe(true); // only ^ negates
    expect(match("[!a]", "b")).toBe(false);
    expect(match("[a-c]", "b")).toBe(true);
    expect(match("[c-a]", "b")).toBe(true); // reversed range
    expect(match("[a-c]", "d")).toBe(false);
    expect(match("[\\]]", "]")).toBe(true);
    expect(match("[a\\-z]", "b")).toBe(false); // escaped -: a, -, z
    expect(match("[a\\-z]", "-")).toBe(true);
    expect(match("a\\*", "a*")).toBe(true);
    expect(match("a\\*", "ab")).toBe(false);
    expect(match("[ab", "b")).toBe(true); // unclosed: the rest is the set
    expect(match("[ab", "[")).toBe(false);
    expect(match("a\\", "a\\")).toBe(true); // trailing backslash is literal
  });

  it("matches bytes, not characters", () => {
    expect(match("?", "é")).toBe(false);
    expect(match("??", "é")).toBe(true);
    expect(match("caf?", "café")).toBe(false);
    expect(match("caf*", "café")).toBe(true);
    expect(match("*é", "café")).toBe(true);
    expect(match("日*", "日本")).toBe(true);
  });

  it("stays fast on patterns that make backtracking explode", () => {
    const key = "a".repeat(5000);
    const started = Date.now();
    expect(match("*a*a*a*a*a*a*a*a*a*b", key)).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000); // generous: a naive matcher would never finish
  });

  it("escapeGlob makes text match only itself", () => {
    const nasty = "a*b?c[d]e\\f^g-h";
    const pattern = escapeGlob(nasty);
    expect(match(pattern, nasty)).toBe(true);
    expect(match(pattern, "a*b?c[d]e\\f^g-hx")).toBe(false);
    expect(match(pattern, "axb?c[d]e\\f^g-h")).toBe(false);
    expect(match(`${pattern}:*`, `${nasty}:k`)).toBe(true);
    expect(escapeGlob("plain:ns")).toBe("plain:ns");
  });
});

// ---- against a real redis-server -------------------------------------------------------------

const REDIS_SERVER = "/usr/bin/redis-server";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRICKY_KEYS = [
  "", "a", "b", "ab", "abc", "abd", "acb", "a-b", "a^b", "a!b", "a]b", "a[b", "a*b", "a?b", "a\\b", "]", "[", "^", "-", "!",
  "\\", "*", "?", "[]", "x]", "user:1", "user:12", "user:ann", "user:", "é", "café", "日本", "a€b", "zzz", "A", "Z", "_", "`",
  "aaaa", "aaab", "abab",
];

const TRICKY_PATTERNS = [
  "*", "**", "***", "", "?", "??", "???", "a", "a*", "*a", "*a*", "a*b", "a?b", "a*b*", "*b*c", "[ab]", "[^ab]", "[!ab]",
  "[a-c]", "[c-a]", "[a-]", "[-a]", "[a-]b", "a[-]b", "[]", "[]]", "[]a]", "a[]]b", "[^]]", "[\\]]", "a[\\]]b", "[\\", "a[",
  "a[b", "a[^", "[", "[^", "\\", "a\\", "a\\*b", "a\\?b", "a\\[b", "a\\]b", "a\\\\b", "\\a", "[\\a-c]", "[a\\-c]", "[a-\\]",
  "[Z-a]", "[A-Z]", "[^a-z]*", "user:*", "user:?", "user:??", "user:[0-9]*", "user:[^0-9]*", "*:*", "?é", "??", "caf?",
  "caf??", "caf*", "*é", "[é]", "[^é]", "[^é][^é]", "日*", "a*€*", "[\\*]", "*[*]", "a*a*a*b", "*ab", "[a-c][a-c]", "a]b",
];

describe.runIf(existsSync(REDIS_SERVER))("compileGlob against redis-server KEYS", () => {
  let server: ChildProcess | undefined;
  let redis: Redis;

  beforeAll(async () => {
    const port = await freePort();
    server = spawn(REDIS_SERVER, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    redis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    redis.on("error", () => {}); // refused while the server starts; connect() below retries
    for (let attempt = 0; ; attempt++) {
      try {
        await redis.connect();
        break;
      } catch (error) {
        if (attempt > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  });

  afterAll(async () => {
    redis?.disconnect();
    server?.kill();
  });

  async function compare(keys: readonly string[], patterns: readonly string[], namespace: string): Promise<void> {
    await redis.flushdb();
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.set(namespace + key, "1");
    await pipeline.exec();
    const queries = redis.pipeline();
    for (const pattern of patterns) queries.keys(escapeGlob(namespace) + pattern);
    const results = (await queries.exec())!;
    const mismatches: string[] = [];
    let hits = 0;
    patterns.forEach((pattern, i) => {
      const [error, found] = results[i]!;
      if (error) throw error;
      const expected = (found as string[]).map((key) => key.slice(namespace.length)).sort();
      const matcher = compileGlob(pattern);
      const actual = keys.filter((key) => matcher(key)).sort();
      hits += expected.length;
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        mismatches.push(`${JSON.stringify(pattern)}: redis ${JSON.stringify(expected)} vs ours ${JSON.stringify(actual)}`);
      }
    });
    expect(mismatches).toEqual([]);
    expect(hits).toBeGreaterThan(0); // the comparison saw real matches
  }

  it("agrees on a table of tricky patterns (namespaced, as the network backends store keys)", async () => {
    await compare(TRICKY_KEYS, TRICKY_PATTERNS, "cashews:");
  });

  it("agrees on the same table without a namespace (the empty key aside)", async () => {
    await compare(
      TRICKY_KEYS.filter((key) => key !== ""),
      TRICKY_PATTERNS,
      "",
    );
  });

  it("agrees on random patterns over a small alphabet", async () => {
    const next = random(20240611);
    const pick = (alphabet: readonly string[], max: number): string => {
      let out = "";
      const length = Math.floor(next() * (max + 1));
      for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
      return out;
    };
    const keyAlphabet = ["a", "b", "c", "-", "^", "]", "[", "\\", "*", "é"];
    const patternAlphabet = ["a", "b", "c", "-", "^", "]", "[", "\\", "*", "*", "?", "é", "[", "]"];
    const keys = new Set<string>(["a", "é", "ab"]);
    while (keys.size < 150) keys.add(pick(keyAlphabet, 6) || "a");
    const patterns = new Set<string>();
    while (patterns.size < 1500) patterns.add(pick(patternAlphabet, 7));
    await compare([...keys], [...patterns], "p:");
  });

  it("agrees on Redis's limit of 1000 nested * groups", async () => {
    const key = "a".repeat(1001);
    const patterns = ["*a".repeat(999), "*a".repeat(1000), "*a".repeat(1001), "*a".repeat(1002)];
    await compare([key], patterns, "");
  });
});
