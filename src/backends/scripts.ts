/**
 * Lua scripts shared by the Redis (ioredis) and Upstash (REST) backends. Plain text, no client
 * import: each backend runs them with `EVALSHA sha1` and falls back to `EVAL lua` on `NOSCRIPT`
 * (which also loads the script into the server's cache for the next `EVALSHA`).
 *
 * Every script touches only `KEYS[1]`, so it is correct on Redis Cluster.
 * @module
 */

/** A Lua script: its name (for errors and stats), source, and the SHA-1 hex digest of `lua`. */
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
