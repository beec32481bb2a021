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
 * Tag set, a sorted set scored by each member's expiry (epoch ms on the server's clock, `inf`
 * for none): `KEYS[1]` the set, `ARGV[1]` the member (a user key), `ARGV[2]` the member's expiry
 * in ms (integer > 0), or `-1` for a member without expiry.
 *
 * Drops the members whose expiry has passed, adds (or re-scores) the member, then extends the
 * set's TTL to at least the member's and never shortens it: a new set gets the member's TTL; an
 * expiring set gets `max(current, member's)`; a persistent set stays persistent; a member
 * without expiry makes the set persistent. (Same as `PEXPIRE … GT` plus a PERSIST, spelled out
 * so that it also runs on Redis < 7.) The set therefore outlives every member. A plain set (how
 * an earlier version stored tags) is converted first, its members scored 0: unchecked, never
 * expiring (their keys carry no record of their tags). Returns 1.
 */
export const TAG_ADD: LuaScript = {
  name: "tag_add",
  lua:
    "local ms = tonumber(ARGV[2])\n" +
    "local time = redis.call('TIME')\n" +
    "local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)\n" +
    "if redis.call('TYPE', KEYS[1]).ok == 'set' then\n" +
    "  local ttl = redis.call('PTTL', KEYS[1])\n" +
    "  local old = redis.call('SMEMBERS', KEYS[1])\n" +
    "  redis.call('DEL', KEYS[1])\n" +
    "  for i = 1, #old do redis.call('ZADD', KEYS[1], 0, old[i]) end\n" +
    "  if ttl >= 0 then redis.call('PEXPIRE', KEYS[1], ttl) end\n" +
    "end\n" +
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '(0', now)\n" +
    "local ttl = redis.call('PTTL', KEYS[1])\n" +
    "if ms < 0 then\n" +
    "  redis.call('ZADD', KEYS[1], 'inf', ARGV[1])\n" +
    "  if ttl >= 0 then redis.call('PERSIST', KEYS[1]) end\n" +
    "else\n" +
    "  redis.call('ZADD', KEYS[1], now + ms, ARGV[1])\n" +
    "  if ttl == -2 or (ttl >= 0 and ttl < ms) then redis.call('PEXPIRE', KEYS[1], ms) end\n" +
    "end\n" +
    "return 1\n",
  sha1: "e73e38f83951e503632b6520ac2f2efb9ab696e9",
};

/**
 * Pops up to `ARGV[1]` members of the tag set `KEYS[1]` (see {@link TAG_ADD}) after dropping the
 * expired ones. Returns `[member, score, …]`: score `0` marks a member recorded by an earlier
 * version (a plain set, popped as is), to be deleted unchecked; `[]` when the set is missing.
 */
export const TAG_POP: LuaScript = {
  name: "tag_pop",
  lua:
    "local kind = redis.call('TYPE', KEYS[1]).ok\n" +
    "if kind == 'none' then return {} end\n" +
    "if kind == 'set' then\n" +
    "  local out = {}\n" +
    "  for _, member in ipairs(redis.call('SPOP', KEYS[1], ARGV[1])) do\n" +
    "    out[#out + 1] = member\n" +
    "    out[#out + 1] = '0'\n" +
    "  end\n" +
    "  return out\n" +
    "end\n" +
    "local time = redis.call('TIME')\n" +
    "local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)\n" +
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '(0', now)\n" +
    "return redis.call('ZPOPMIN', KEYS[1], ARGV[1])\n",
  sha1: "58db44af06a67ed27a2c6031ba2e3486694960c7",
};

/**
 * Compare-and-delete of a tagged value: `KEYS[1]` a user key, `ARGV[1]` the tag's needle
 * (`tagNeedle(tag)` of `backends/tagged`). Deletes the key only when it holds a string whose
 * tag header carries the tag; anything else (untagged, other tags, another type, missing) stays.
 * Returns 1 when deleted, 0 otherwise.
 */
export const TAG_DELETE: LuaScript = {
  name: "tag_delete",
  lua:
    "if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end\n" +
    "local v = redis.call('GET', KEYS[1])\n" +
    "if string.sub(v, 1, 4) ~= '$t1:' then return 0 end\n" +
    "local e = string.find(v, '\\2', 5, true)\n" +
    "if e and string.find(string.sub(v, 5, e - 1), ARGV[1], 1, true) then return redis.call('DEL', KEYS[1]) end\n" +
    "return 0\n",
  sha1: "f09cccc915811e4572b83b58fca31a16fc30de54",
};

/**
 * Counter that carries tags: `KEYS[1]` the counter, `ARGV[1]` the increment (integer), `ARGV[2]`
 * the expiry in ms of a counter this call creates (`-1`: none), `ARGV[3…]` tags to add (escaped
 * as in `backends/tagged`). Reads the counter with or without its tag header, adds the increment,
 * and writes it back with the union of its tags and the new ones, keeping its TTL. Used for
 * `incr` with tags, and for any `incr` whose plain `INCRBY` found a tagged counter. Rejects like
 * `INCRBY` a value that is not an integer, and (as JavaScript numbers are exact only so far)
 * results beyond ±(2^53 − 1). Returns the new value.
 */
export const TAG_INCR: LuaScript = {
  name: "tag_incr",
  lua:
    "local kind = redis.call('TYPE', KEYS[1]).ok\n" +
    "if kind ~= 'string' and kind ~= 'none' then return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value') end\n" +
    "local v = redis.call('GET', KEYS[1])\n" +
    "local header, text = '\\1', '0'\n" +
    "if v then\n" +
    "  text = v\n" +
    "  if string.sub(v, 1, 4) == '$t1:' then\n" +
    "    local e = string.find(v, '\\2', 5, true)\n" +
    "    if e then header, text = string.sub(v, 5, e - 1), string.sub(v, e + 1) end\n" +
    "  end\n" +
    "end\n" +
    "if not (string.match(text, '^-?[1-9]%d*$') or text == '0') or #text > 17 then return redis.error_reply('ERR value is not an integer or out of range') end\n" +
    "local value = tonumber(text) + tonumber(ARGV[1])\n" +
    "if value > 9007199254740991 or value < -9007199254740991 then return redis.error_reply('ERR increment or decrement would overflow') end\n" +
    "for i = 3, #ARGV do\n" +
    "  if not string.find(header, '\\1' .. ARGV[i] .. '\\1', 1, true) then header = header .. ARGV[i] .. '\\1' end\n" +
    "end\n" +
    "local stored = string.format('%d', value)\n" +
    "if header ~= '\\1' then stored = '$t1:' .. header .. '\\2' .. stored end\n" +
    "local ttl = redis.call('PTTL', KEYS[1])\n" +
    "redis.call('SET', KEYS[1], stored)\n" +
    "if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl)\n" +
    "elseif not v and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n" +
    "return value\n",
  sha1: "3cc90c58729b7bf4db22ff2c71ecadcd023b809f",
};

/**
 * GET and PTTL of every key in one atomic step: `[value1, pttl1, value2, pttl2, …]`; a key that
 * holds no string (a set, a sorted set) reads as nil, as with MGET. Read-only (it runs on replicas
 * too); in a cluster its keys must share a slot (clientSide is single-node; Upstash is one node).
 */
export const GET_WITH_TTL: LuaScript = {
  name: "get_with_ttl",
  lua:
    "local r = {}\n" +
    "for i = 1, #KEYS do\n" +
    "  local v = redis.pcall('GET', KEYS[i])\n" +
    "  if type(v) == 'table' then v = false end\n" +
    "  r[2 * i - 1] = v\n" +
    "  r[2 * i] = redis.call('PTTL', KEYS[i])\n" +
    "end\n" +
    "return r\n",
  sha1: "743cb35aa18fa287149536612ad3bf7edfbe1ca8",
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

/**
 * The limiter's atomic step (`Backend.limit`, the same integers as `decide` in `backends/limits`),
 * on the server's clock (`TIME`, read once per script), for one or more calls in turn: the limit
 * calls of one tick share scripts (see `LimitBatcher` in backends/remote), each call exactly as if
 * it ran alone, in issue order. `ARGV[1]` the number of calls; per call, its keys in order (the
 * rules' keys, then the ban key: all in one hash slot, the callers wrap the key in a hash tag) and
 * its arguments in order: the cost, the ban in ms (0: none), `1` to delete every key first
 * (reset), the number of rules n, then 4 per rule: the algorithm (`f` fixed, `s` sliding, `t`
 * tokenBucket), limit, period (ms), refill. One call with one fixed window, no ban to set and no
 * reset, has a short form: `ARGV = {"F", cost, limit, period}`, its keys the window's and the ban
 * key (answered at the top of the script, before anything else is read or defined).
 *
 * State: fixed, the count (a string) expiring at the window's end, so a lone fixed window needs
 * neither the clock nor a hash (`TIME` is read only when a rule needs it; a lone fixed window
 * without a ban takes a short path: EXISTS of the ban, INCRBY, then PEXPIRE for a new window or
 * PTTL, and DECRBY to undo a refused call); sliding, a
 * sorted set of units scored by their time (a call of cost k adds k), member `<time>:<n>` (n
 * counts the units of that ms, so several stay apart), expiring `period` after the newest; tokenBucket, a hash
 * `{l = level in 1/period tokens, a = its time}` expiring when full (deleted when full); the ban,
 * a hash `{u = until}`. A key of another type fails its call alone (every key of a call is read
 * before anything is written, so nothing is). Nothing is written unless the cost is consumed or
 * a ban set. Returns, per call, `{success (1/0), bannedMs, remaining1, reset1, retry1, …}`; a
 * failed call's first item is the error message (then zeros).
 */
export const LIMIT: LuaScript = {
  name: "limit",
  lua:
    "local WRONG = 'WRONGTYPE Operation against a key holding the wrong kind of value'\n" +
    // The short path of a call with one fixed window, no ban in force, no reset, a cost: INCRBY
    // first (undone when refused, so nothing is written), PTTL for the window's end; a new key
    // (the count is the cost: a stored count is never 0) or one without expiry starts a window.
    // nil: the general path decides (a ban in force, or a refused call that sets one).
    "local function fixed(key, banKey, cost, limit, period, banMs)\n" +
    "  if cost == 0 or redis.call('EXISTS', banKey) == 1 then return nil end\n" +
    "  local v = redis.pcall('INCRBY', key, cost)\n" +
    // Not a counter (a string that is no integer, another type): WRONGTYPE, as the general path
    // says it; any other error (READONLY on a demoted master, OOM) as the server said it.
    "  if type(v) == 'table' then\n" +
    "    if string.sub(v.err, 1, 4) == 'ERR ' or string.sub(v.err, 1, 9) == 'WRONGTYPE' then return redis.error_reply(WRONG) end\n" +
    "    return v\n" +
    "  end\n" +
    "  local count, left = v - cost, -1\n" +
    "  if count ~= 0 then left = redis.call('PTTL', key) end\n" +
    "  local fresh = left <= 0\n" +
    "  if fresh then count, left = 0, period end\n" +
    "  local cap = limit - count\n" +
    "  if cap < 0 then cap = 0 end\n" +
    "  if cap >= cost then\n" +
    "    if v == cost then redis.call('PEXPIRE', key, period)\n" +
    "    elseif fresh then redis.call('SET', key, cost, 'PX', period) end\n" +
    "    return {1, 0, cap - cost, left, 0}\n" +
    "  end\n" +
    "  if v == cost then redis.call('DEL', key) else redis.call('DECRBY', key, cost) end\n" +
    "  if banMs ~= 0 then return nil end\n" +
    "  return {0, 0, cap, left, left}\n" +
    "end\n" +
    // The short form (a lone call made one after another): answered here, or (a ban in force)
    // rewritten to the general form of the same call for the general path.
    "local tried = false\n" +
    "if ARGV[1] == 'F' then\n" +
    "  local r = fixed(KEYS[1], KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), 0)\n" +
    "  if r then return r end\n" +
    "  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9] = '1', ARGV[2], '0', '0', '1', 'f', ARGV[3], ARGV[4], '0'\n" +
    "  tried = true\n" +
    "end\n" +
    "local now\n" +
    "local function clock()\n" +
    "  if not now then\n" +
    "    local t = redis.call('TIME')\n" +
    "    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" +
    "  end\n" +
    "  return now\n" +
    "end\n" +
    // `fixed` for the call whose keys start after KEYS[k] and arguments after ARGV[a].
    "local function fast(k, a)\n" +
    "  if ARGV[a + 4] ~= '1' or ARGV[a + 5] ~= 'f' or ARGV[a + 3] == '1' then return nil end\n" +
    "  return fixed(KEYS[k + 1], KEYS[k + 2], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7]), tonumber(ARGV[a + 2]))\n" +
    "end\n" +
    // The short path of a call with one sliding window, no ban in force, no reset, admitted or
    // refused without a ban to set: what the general path answers and writes, without its tables.
    // Calls of one script on the same sliding key in a row (100 in flight on one id) read the set
    // once: `memo` keeps what the last one learnt (the live count, the oldest unit, the next
    // member number, whether the expiry is set) while nothing else ran, since the clock is the
    // script's and nothing else writes meanwhile; each further call is then its ZADD alone.
    "local memo\n" +
    "local function slide(k, a)\n" +
    "  if ARGV[a + 4] ~= '1' or ARGV[a + 5] ~= 's' or ARGV[a + 3] == '1' then return nil end\n" +
    "  local key, cost, limit, period = KEYS[k + 1], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])\n" +
    "  local t = clock()\n" +
    "  local m = memo\n" +
    "  memo = nil\n" +
    "  if not m or m.key ~= key then\n" +
    "    if redis.call('EXISTS', KEYS[k + 2]) == 1 then return nil end\n" +
    "    local after = '(' .. string.format('%d', t - period)\n" +
    "    local used = redis.pcall('ZCOUNT', key, after, '+inf')\n" +
    "    if type(used) == 'table' then return used end\n" +
    "    local first = redis.call('ZRANGEBYSCORE', key, after, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)\n" +
    "    local oldest = nil\n" +
    "    if #first > 0 then oldest = tonumber(first[2]) end\n" +
    "    m = {key = key, after = after, used = used, oldest = oldest}\n" +
    "  end\n" +
    "  local used, oldest = m.used, m.oldest\n" +
    "  local cap = limit - used\n" +
    "  if cap < 0 then cap = 0 end\n" +
    "  if cap < cost then\n" +
    "    if ARGV[a + 2] ~= '0' then return nil end\n" +
    "    local e = redis.call('ZRANGEBYSCORE', key, m.after, '+inf', 'WITHSCORES', 'LIMIT', used + cost - limit - 1, 1)\n" +
    "    local retry = period\n" +
    "    if #e > 0 then retry = tonumber(e[2]) + period - t end\n" +
    "    memo = m\n" +
    "    return {0, 0, cap, oldest and (oldest + period - t) or 0, retry}\n" +
    "  end\n" +
    "  if cost == 0 then\n" +
    "    memo = m\n" +
    "    return {1, 0, cap, oldest and (oldest + period - t) or 0, 0}\n" +
    "  end\n" +
    "  local at = string.format('%d', t)\n" +
    "  if not m.seq then\n" +
    "    redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', t - period))\n" +
    "    m.seq = redis.call('ZCOUNT', key, t, t)\n" +
    // The expiry follows the newest unit, which is this ms's unless the clock stepped back.
    "    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')\n" +
    "    local newest = t\n" +
    "    if #last > 0 then newest = math.max(tonumber(last[2]), t) end\n" +
    "    m.ttl = newest + period - t\n" +
    "  end\n" +
    "  local added = 0\n" +
    "  while added < cost do\n" +
    "    local batch = {}\n" +
    "    for _ = 1, math.min(cost - added, 1000) do\n" +
    "      batch[#batch + 1] = t\n" +
    "      batch[#batch + 1] = at .. ':' .. string.format('%d', m.seq + added)\n" +
    "      added = added + 1\n" +
    "    end\n" +
    "    redis.call('ZADD', key, unpack(batch))\n" +
    "  end\n" +
    "  if m.ttl then\n" +
    "    redis.call('PEXPIRE', key, m.ttl)\n" +
    "    m.ttl = nil\n" +
    "  end\n" +
    "  m.seq, m.used = m.seq + cost, used + cost\n" +
    "  if not oldest then m.oldest = t end\n" +
    "  memo = m\n" +
    "  return {1, 0, cap - cost, oldest and (math.min(oldest, t) + period - t) or period, 0}\n" +
    "end\n" +
    "local calls = tonumber(ARGV[1])\n" +
    "if calls == 1 and not tried then\n" +
    "  local r = fast(0, 1) or slide(0, 1)\n" +
    "  if r then return r end\n" +
    "end\n" +
    "local function fmt(x) return string.format('%d', x) end\n" +
    "local function bad(v) return type(v) == 'table' and v.err ~= nil end\n" +
    "local function fail(n, message)\n" +
    "  local out = {message, 0}\n" +
    "  for _ = 1, 3 * n do out[#out + 1] = 0 end\n" +
    "  return out\n" +
    "end\n" +
    // One call: its keys are KEYS[k+1..k+n+1], its arguments ARGV[a+1..a+4+4n]; `tried`: fast() said nil.
    "local function one(k, a, tried)\n" +
    "  local cost, banMs, n = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 4])\n" +
    "  local banKey = KEYS[k + n + 1]\n" +
    "  if not tried then\n" +
    "    local r = fast(k, a) or slide(k, a)\n" +
    "    if r then\n" +
    "      if r.err then return fail(n, r.err) end\n" +
    "      return r\n" +
    "    end\n" +
    "  end\n" +
    // The general path may write any key, the last sliding call's among them.
    "  memo = nil\n" +
    "  if ARGV[a + 3] == '1' then\n" +
    "    for i = 1, n + 1 do redis.call('DEL', KEYS[k + i]) end\n" +
    "  end\n" +
    "  local bannedMs = 0\n" +
    "  if redis.call('EXISTS', banKey) == 1 then\n" +
    "    local u = redis.pcall('HGET', banKey, 'u')\n" +
    "    if bad(u) then return fail(n, u.err) end\n" +
    "    u = tonumber(u)\n" +
    "    if u and u > clock() then bannedMs = u - now end\n" +
    "  end\n" +
    "  local algos, limits, periods, refills = {}, {}, {}, {}\n" +
    "  local cap, rst, aux, aux2 = {}, {}, {}, {}\n" +
    "  local admitted = true\n" +
    "  for i = 1, n do\n" +
    "    local key, j = KEYS[k + i], a + 4 * i\n" +
    "    local algo, limit, period = ARGV[j + 1], tonumber(ARGV[j + 2]), tonumber(ARGV[j + 3])\n" +
    "    algos[i], limits[i], periods[i] = algo, limit, period\n" +
    "    if algo == 'f' then\n" +
    "      local c = redis.pcall('GET', key)\n" +
    "      if bad(c) then return fail(n, c.err) end\n" +
    "      local count, left = 0, period\n" +
    "      if c then\n" +
    "        count = tonumber(c)\n" +
    "        if not count then return fail(n, WRONG) end\n" +
    "        left = redis.call('PTTL', key)\n" +
    "        if left <= 0 then count, left = 0, period end\n" +
    "      end\n" +
    "      cap[i], rst[i], aux[i] = math.max(0, limit - count), left, count\n" +
    "    elseif algo == 's' then\n" +
    "      local after = '(' .. fmt(clock() - period)\n" +
    "      local used = redis.pcall('ZCOUNT', key, after, '+inf')\n" +
    "      if bad(used) then return fail(n, used.err) end\n" +
    "      local first = redis.call('ZRANGEBYSCORE', key, after, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)\n" +
    "      local oldest = nil\n" +
    "      if #first > 0 then oldest = tonumber(first[2]) end\n" +
    "      cap[i], aux[i], aux2[i] = math.max(0, limit - used), used, oldest\n" +
    "      rst[i] = 0\n" +
    "      if oldest then rst[i] = oldest + period - now end\n" +
    "    else\n" +
    "      local refill = tonumber(ARGV[j + 4])\n" +
    "      refills[i] = refill\n" +
    "      local full = limit * period\n" +
    "      local level = full\n" +
    "      local la = redis.pcall('HMGET', key, 'l', 'a')\n" +
    "      if bad(la) then return fail(n, la.err) end\n" +
    "      local l, at, t = tonumber(la[1]), tonumber(la[2]), clock()\n" +
    "      if l and at then level = math.min(full, l + math.max(0, t - at) * refill) end\n" +
    "      cap[i], aux[i] = math.floor(level / period), level\n" +
    "      rst[i] = 0\n" +
    "      if level < full then rst[i] = math.ceil((full - level) / refill) end\n" +
    "    end\n" +
    "    if cap[i] < cost then admitted = false end\n" +
    "  end\n" +
    "  local function retry(i, c)\n" +
    "    if cap[i] >= c then return 0 end\n" +
    "    local algo, period = algos[i], periods[i]\n" +
    "    if algo == 'f' then return rst[i] end\n" +
    "    if algo == 's' then\n" +
    "      local need = aux[i] + c - limits[i]\n" +
    "      local e = redis.call('ZRANGEBYSCORE', KEYS[k + i], '(' .. fmt(now - period), '+inf', 'WITHSCORES', 'LIMIT', need - 1, 1)\n" +
    "      if #e == 0 then return period end\n" +
    "      return tonumber(e[2]) + period - now\n" +
    "    end\n" +
    "    return math.ceil((c * period - aux[i]) / refills[i])\n" +
    "  end\n" +
    "  local out = {0, 0}\n" +
    "  if bannedMs > 0 then\n" +
    "    out[2] = bannedMs\n" +
    "    for i = 1, n do\n" +
    "      out[#out + 1] = 0; out[#out + 1] = rst[i]; out[#out + 1] = math.max(retry(i, math.max(cost, 1)), bannedMs)\n" +
    "    end\n" +
    "    return out\n" +
    "  end\n" +
    "  if not admitted or cost == 0 then\n" +
    "    local ban = not admitted and cost > 0 and banMs > 0\n" +
    "    if admitted then out[1] = 1 end\n" +
    "    for i = 1, n do\n" +
    "      if ban then\n" +
    "        out[#out + 1] = 0; out[#out + 1] = rst[i]; out[#out + 1] = math.max(retry(i, cost), banMs)\n" +
    "      else\n" +
    "        out[#out + 1] = cap[i]; out[#out + 1] = rst[i]; out[#out + 1] = retry(i, cost)\n" +
    "      end\n" +
    "    end\n" +
    "    if ban then\n" +
    "      out[2] = banMs\n" +
    "      redis.call('HSET', banKey, 'u', fmt(clock() + banMs))\n" +
    "      redis.call('PEXPIRE', banKey, banMs)\n" +
    "    end\n" +
    "    return out\n" +
    "  end\n" +
    "  out[1] = 1\n" +
    "  for i = 1, n do\n" +
    "    local key, algo, period = KEYS[k + i], algos[i], periods[i]\n" +
    "    local remaining, reset = cap[i] - cost, rst[i]\n" +
    "    if algo == 'f' then\n" +
    "      if aux[i] > 0 then redis.call('INCRBY', key, cost)\n" +
    "      else redis.call('SET', key, cost, 'PX', period) end\n" +
    "    elseif algo == 's' then\n" +
    "      redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - period))\n" +
    // The units of this ms are `<now>:0` … `<now>:<c-1>` (only older ones are ever removed), so
    // the next names follow their count; ZADD in batches (unpack has a stack limit).
    "      local at = fmt(now)\n" +
    "      local seq = redis.call('ZCOUNT', key, now, now)\n" +
    "      local added = 0\n" +
    "      while added < cost do\n" +
    "        local batch = {}\n" +
    "        for _ = 1, math.min(cost - added, 1000) do\n" +
    "          batch[#batch + 1] = now\n" +
    "          batch[#batch + 1] = at .. ':' .. fmt(seq + added)\n" +
    "          added = added + 1\n" +
    "        end\n" +
    "        redis.call('ZADD', key, unpack(batch))\n" +
    "      end\n" +
    "      local newest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])\n" +
    "      redis.call('PEXPIRE', key, math.max(newest, now) + period - now)\n" +
    "      local oldest = aux2[i]\n" +
    "      if oldest then reset = math.min(oldest, now) + period - now else reset = period end\n" +
    "    else\n" +
    "      local full = limits[i] * period\n" +
    "      local after = aux[i] - cost * period\n" +
    "      reset = 0\n" +
    "      if after < full then reset = math.ceil((full - after) / refills[i]) end\n" +
    "      if reset == 0 then redis.call('DEL', key)\n" +
    "      else\n" +
    "        redis.call('HSET', key, 'l', fmt(after), 'a', fmt(now))\n" +
    "        redis.call('PEXPIRE', key, reset)\n" +
    "      end\n" +
    "      remaining = math.floor(after / period)\n" +
    "    end\n" +
    "    out[#out + 1] = remaining; out[#out + 1] = reset; out[#out + 1] = 0\n" +
    "  end\n" +
    "  return out\n" +
    "end\n" +
    "local res = {}\n" +
    "local k, a = 0, 1\n" +
    "for _ = 1, calls do\n" +
    "  local n = tonumber(ARGV[a + 4])\n" +
    "  local out = one(k, a, calls == 1)\n" +
    "  for i = 1, #out do res[#res + 1] = out[i] end\n" +
    "  k, a = k + n + 1, a + 4 + 4 * n\n" +
    "end\n" +
    "return res\n",
  sha1: "ecedadab5002dfec9ea5d489bc52be6bf2d67a7a",
};
