/**
 * Lua scripts shared by the Redis (ioredis) and Upstash (REST) backends. Plain text, no client
 * import: each backend runs them with `EVALSHA sha1` and falls back to `EVAL lua` on `NOSCRIPT`
 * (which also loads the script into the server's cache for the next `EVALSHA`).
 *
 * Every script touches only `KEYS[1]`, so it is correct on Redis Cluster.
 * @module
 */

/**
 * A Lua script: its name (for errors and stats), source, and the SHA-1 hex digest of `lua`.
 * @example
 * await redis.evalsha(UNLOCK.sha1, 1, "lock:job", "owner-1"); // ioredis; NOSCRIPT → redis.eval(UNLOCK.lua, …)
 */
export interface LuaScript {
  readonly name: string;
  readonly lua: string;
  /** Lower-case hex SHA-1 of `lua`, as `SCRIPT LOAD` returns it (checked by the test suite). */
  readonly sha1: string;
}

/**
 * Counter with a TTL set on creation: `KEYS[1]` counter, `ARGV[1]` increment (integer),
 * `ARGV[2]` expiry in ms (integer > 0). Returns the new value.
 *
 * Creation is detected with `EXISTS` before `INCRBY` (not by comparing the result with the
 * increment, which misses counters that start with another increment and re-arms counters that
 * come back to the increment's value). An existing counter keeps its TTL, or lack of one.
 * @example
 * const redis = new Redis(); // ioredis
 * await redis.eval(INCR_EXPIRE.lua, 1, "visits", 1, 60_000); // 1, expiring in 1 min
 */
export const INCR_EXPIRE: LuaScript = {
  name: "incr_expire",
  lua:
    "local created = redis.call('EXISTS', KEYS[1]) == 0\n" +
    "local value = redis.call('INCRBY', KEYS[1], ARGV[1])\n" +
    "if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n" +
    "return value\n",
  sha1: "12bfbfccf93aa4441af51c66ad75efc7b04548ff",
};

/**
 * Compare-and-delete: `KEYS[1]` lock, `ARGV[1]` the owner's value. Deletes the key only when it
 * holds exactly that value. Returns 1 when deleted, 0 otherwise (missing, or held by another).
 * @example
 * const redis = new Redis(); // ioredis
 * await redis.set("lock:job", "owner-1", "PX", 30_000, "NX");
 * await redis.eval(UNLOCK.lua, 1, "lock:job", "owner-2"); // 0
 * await redis.eval(UNLOCK.lua, 1, "lock:job", "owner-1"); // 1
 */
export const UNLOCK: LuaScript = {
  name: "unlock",
  lua:
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n" +
    "  return redis.call('DEL', KEYS[1])\n" +
    "end\n" +
    "return 0\n",
  sha1: "c89cee65b7ab260d98c281f3c3eb6fa7c992cdd2",
};

/**
 * Sliding-window log in a sorted set: `KEYS[1]` the log, `ARGV[1]` now (ms, the caller's clock),
 * `ARGV[2]` the window (ms, integer > 0), `ARGV[3]` the limit (`-1`: none), `ARGV[4]` a member
 * unique to this call (so calls in the same millisecond never collapse into one entry).
 *
 * Forgets the entries recorded `window` or more ms before now, then records this call (score =
 * now) only while fewer than `limit` entries remain, and sets the key's TTL to `window`. A call
 * over the limit is not recorded, so rejected bursts never extend the window.
 * Returns `{count, reset}`: the entries in the window counting this call (`count > limit`: it was
 * not recorded), and the ms until the oldest entry leaves the window (0 when the log is empty).
 */
export const SLIDING_INCR: LuaScript = {
  name: "sliding_incr",
  lua:
    "local now = tonumber(ARGV[1])\n" +
    "local window = tonumber(ARGV[2])\n" +
    "local limit = tonumber(ARGV[3])\n" +
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)\n" +
    "local count = redis.call('ZCARD', KEYS[1])\n" +
    "if limit < 0 or count < limit then\n" +
    "  redis.call('ZADD', KEYS[1], now, ARGV[4])\n" +
    "  redis.call('PEXPIRE', KEYS[1], window)\n" +
    "end\n" +
    "local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n" +
    "local reset = 0\n" +
    "if oldest[2] then reset = tonumber(oldest[2]) + window - now end\n" +
    "return {count + 1, reset}\n",
  sha1: "24c19c382f76b31e4f3e65ed6fd5dbbf5f3a9100",
};

/**
 * Tag set: `KEYS[1]` the set, `ARGV[1]` the member (a user key), `ARGV[2]` the member's expiry in
 * ms (integer > 0), or `-1` for a member without expiry.
 *
 * Adds the member, then extends the set's TTL to at least the member's and never shortens it: a
 * new set gets the member's TTL; an expiring set gets `max(current, member's)`; a persistent set
 * stays persistent; a member without expiry makes the set persistent. (Same as `PEXPIRE … GT`
 * plus a PERSIST, spelled out so that it also runs on Redis < 7.) The set therefore outlives every
 * member, so a shorter-lived later add can never orphan an earlier member. Returns 1.
 */
export const TAG_ADD: LuaScript = {
  name: "tag_add",
  lua:
    "local ms = tonumber(ARGV[2])\n" +
    "local ttl = redis.call('PTTL', KEYS[1])\n" +
    "redis.call('SADD', KEYS[1], ARGV[1])\n" +
    "if ms < 0 then\n" +
    "  if ttl >= 0 then redis.call('PERSIST', KEYS[1]) end\n" +
    "elseif ttl == -2 or (ttl >= 0 and ttl < ms) then\n" +
    "  redis.call('PEXPIRE', KEYS[1], ms)\n" +
    "end\n" +
    "return 1\n",
  sha1: "d39b5ccd3dce19674d942c15faa220dab2f0d70c",
};

/**
 * Set add (`cache.setAdd`): `KEYS[1]` the set, `ARGV[1]` expiry in ms (`-1`: leave the TTL as it
 * is), `ARGV[2..]` the members. SADD then PEXPIRE in one step, so a set never exists without its
 * TTL. Returns how many members were new.
 * @example
 * await redis.evalsha(SET_ADD.sha1, 1, "online", 60000, "ada", "grace"); // 2
 */
export const SET_ADD: LuaScript = {
  name: "set_add",
  lua:
    "local n = redis.call('SADD', KEYS[1], unpack(ARGV, 2))\n" +
    "local ms = tonumber(ARGV[1])\n" +
    "if ms >= 0 then redis.call('PEXPIRE', KEYS[1], ms) end\n" +
    "return n\n",
  sha1: "805cedd3e96b92442e1d2defcb6707a9c216df39",
};
