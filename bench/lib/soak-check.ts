/**
 * The soak's model and checkers (bench/soak.ts): pure code, no I/O, no clock of its own, so every
 * rule that turns an answer into a "wrong answer" is testable on its own
 * (test/soak/soak-check.test.ts feeds it recorded wrong answers).
 *
 * - {@link KeyModel}: exact read-your-writes on keys one actor owns alone (value, tags, counters).
 * - {@link SharedVersions}: a versioned key another actor (or process) writes; a read that starts
 *   later than `boundMs` after a write resolved must see that version or a newer one.
 * - {@link LockChecker}: no two recorded critical sections of one lock overlap.
 * - {@link FixedWindowChecker}: a fixed-window limiter shared by every caller of a scope admits at
 *   most `limit` per window, each admitted call gets its own `remaining`, and nothing is refused in
 *   a window that admitted fewer than `limit`.
 *
 * @module
 */

/** One wrong answer: what was asked, what was expected and what came back. */
export interface WrongAnswer {
  /** The check that failed, e.g. `get`, `stale-read`, `lock-overlap`, `over-admission`. */
  check: string;
  /** The backend (`mem`, `redis`, `upstash`) and, when known, the process (`p0`, `p1`). */
  where: string;
  /** Human-readable details (key, expected, got, times). */
  detail: string;
}

/** A value the soak writes to a key it owns: `seq` is unique per writer, `at` exercises the codec (a `Date`). */
export interface OwnedValue {
  seq: number;
  owner: string;
  at: Date;
}

/**
 * Whether `got` is the same owned value (or counter) as `expected`; `undefined` = a miss on both sides.
 * @example
 * sameValue({ seq: 1, owner: "p0.a0", at: new Date(5) }, await cache.get("k")); // false for an older seq
 */
export function sameValue(expected: unknown, got: unknown): boolean {
  if (expected === undefined || got === undefined || expected === null || got === null) return expected === got;
  if (typeof expected === "number") return got === expected;
  if (typeof expected !== "object" || typeof got !== "object") return false;
  const e = expected as OwnedValue;
  const g = got as Partial<OwnedValue>;
  return g.seq === e.seq && g.owner === e.owner && g.at instanceof Date && g.at.getTime() === e.at.getTime();
}

const show = (value: unknown): string =>
  value === undefined ? "(miss)" : typeof value === "object" && value !== null && "seq" in value ? `#${(value as OwnedValue).seq}/${(value as OwnedValue).owner}` : JSON.stringify(value);

/**
 * The exact model of keys one actor alone reads and writes (no other writer): what each key holds
 * and the tags its last write carried (a write replaces a key's tags; a write without tags leaves
 * none). Every read is checked exactly against it.
 *
 * @example
 * const model = new KeyModel("redis:p0");
 * model.wrote("k1", { seq: 1, owner: "a0", at: new Date(0) }, ["t1"]);
 * model.check("get", "k1", await cache.get("k1")); // undefined when it matches, else a WrongAnswer
 * model.deletedTag("t1");                           // the keys that carried t1 are now misses
 */
export class KeyModel {
  readonly #where: string;
  readonly #entries = new Map<string, { value: unknown; tags: readonly string[] }>();

  constructor(where: string) {
    this.#where = where;
  }

  /** What `key` holds in the model (`undefined`: a miss). */
  expected(key: string): unknown {
    return this.#entries.get(key)?.value;
  }

  /** Whether `key` holds a value in the model. */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Records a write of `value` to `key` carrying `tags` (none: the key carries no tag afterwards). */
  wrote(key: string, value: unknown, tags: readonly string[] = []): void {
    this.#entries.set(key, { value, tags });
  }

  /** Records a delete of `key`. */
  deleted(key: string): void {
    this.#entries.delete(key);
  }

  /** Records `deleteTags(tag)`; returns the keys that carried it (now misses). */
  deletedTag(tag: string): string[] {
    const gone: string[] = [];
    for (const [key, entry] of this.#entries) if (entry.tags.includes(tag)) gone.push(key);
    for (const key of gone) this.#entries.delete(key);
    return gone;
  }

  /** Checks that a read of `key` returned what the model holds; a {@link WrongAnswer} when not. */
  check(op: string, key: string, got: unknown): WrongAnswer | undefined {
    const expected = this.expected(key);
    if (sameValue(expected, got)) return undefined;
    return { check: op, where: this.#where, detail: `${key}: expected ${show(expected)}, got ${show(got)}` };
  }
}

/**
 * Bounded staleness of keys written by someone else (another actor, or another process told over
 * IPC): once a write of version `v` was known at `at` (resolved, or announced to this reader), a
 * read that starts after `at + boundMs` must return `v` or newer. `at` must not decrease per key.
 * Times are one clock for every process of the machine (e.g. `process.hrtime` in ms,
 * CLOCK_MONOTONIC). Only the newest requirement per key is kept once it
 * applies, so memory stays bounded over long runs.
 *
 * @example
 * const shared = new SharedVersions("redis:p1", 2000);
 * shared.wrote("s:0", 7, nowMs());              // told by the writer
 * shared.read("s:0", got?.v ?? 0, readStartMs); // a WrongAnswer when older than 7 after the bound
 */
export class SharedVersions {
  readonly #where: string;
  readonly #boundMs: number;
  /** Per key: versions written (ascending) with when each resolved; pruned as they apply. */
  readonly #writes = new Map<string, { version: number; at: number }[]>();
  /** Per key: the newest version every read starting now must reach. */
  readonly #floor = new Map<string, { version: number; at: number }>();
  /** Reads checked against a floor (a requirement already in force). */
  checked = 0;

  constructor(where: string, boundMs: number) {
    this.#where = where;
    this.#boundMs = boundMs;
  }

  /** A write of `version` to `key` known at `at` (ms). Versions of one key must come in order, `at` not decreasing. */
  wrote(key: string, version: number, at: number): void {
    let list = this.#writes.get(key);
    if (!list) this.#writes.set(key, (list = []));
    list.push({ version, at });
  }

  /** Checks a read of `key` that started at `startedAt` (ms) and returned `version` (0: a miss). */
  read(key: string, version: number, startedAt: number): WrongAnswer | undefined {
    const list = this.#writes.get(key);
    let floor = this.#floor.get(key);
    if (list) {
      let applied = 0;
      for (const write of list) {
        if (write.at + this.#boundMs >= startedAt) break;
        if (!floor || write.version > floor.version) floor = write;
        applied++;
      }
      if (applied) {
        list.splice(0, applied);
        this.#floor.set(key, floor!);
      }
    }
    if (!floor) return undefined;
    this.checked++;
    if (version >= floor.version) return undefined;
    return {
      check: "stale-read",
      where: this.#where,
      detail: `${key}: read v${version} starting ${(startedAt - floor.at).toFixed(0)} ms after v${floor.version} was written (bound ${this.#boundMs} ms)`,
    };
  }
}

/** One recorded critical section: acquired (after `lock` resolved) → released (before `release` was called), ms on one clock. */
export interface LockInterval {
  /** The lock's key (sections of different keys never conflict). */
  key: string;
  /** Who held it, e.g. `p0.a1`. */
  holder: string;
  acquired: number;
  released: number;
}

/** What {@link LockChecker} found. */
export interface LockCheck {
  /** The first wrong answers (up to 100). */
  wrong: WrongAnswer[];
  /** All wrong answers. */
  wrongCount: number;
  /** Sections checked. */
  checked: number;
  /** Sections left out: longer than the lock's ttl (the lock could have expired). */
  skipped: number;
}

/**
 * Mutual exclusion: the recorded sections of each lock key must not overlap. A section is recorded
 * inside the real one (after acquisition resolved, before release was asked), so any overlap of
 * two recorded sections is a real one. Sections longer than `ttlMs` (the lock could expire) are
 * left out. Incremental, so a long run keeps only recent sections: `settle(watermark)` checks
 * every section acquired before `watermark`, which the caller promises no later section precedes
 * (e.g. the oldest section still in progress when the logs were sent).
 *
 * @example
 * const locks = new LockChecker("redis", 30_000);
 * locks.add(intervals);
 * locks.settle(oldestInProgress);
 * const { wrong } = locks.finish();
 */
export class LockChecker {
  readonly #where: string;
  readonly #ttlMs: number;
  #pending: LockInterval[] = [];
  /** Per key, the checked section released last. */
  readonly #last = new Map<string, LockInterval>();
  readonly #result: LockCheck = { wrong: [], wrongCount: 0, checked: 0, skipped: 0 };

  constructor(where: string, ttlMs: number) {
    this.#where = where;
    this.#ttlMs = ttlMs;
  }

  /** Adds recorded sections (any order). */
  add(intervals: readonly LockInterval[]): void {
    for (const interval of intervals) {
      if (interval.released - interval.acquired >= this.#ttlMs) this.#result.skipped++;
      else this.#pending.push(interval);
    }
  }

  /** Checks the sections acquired before `watermark` (no section still to come was acquired earlier). */
  settle(watermark: number): void {
    this.#pending.sort((a, b) => a.acquired - b.acquired);
    let n = 0;
    while (n < this.#pending.length && this.#pending[n]!.acquired < watermark) n++;
    for (const interval of this.#pending.slice(0, n)) this.#check(interval);
    this.#pending = this.#pending.slice(n);
  }

  /** Checks everything left; the result so far. */
  finish(): LockCheck {
    this.settle(Number.POSITIVE_INFINITY);
    return this.#result;
  }

  #check(interval: LockInterval): void {
    this.#result.checked++;
    const last = this.#last.get(interval.key);
    if (last && interval.acquired < last.released) {
      this.#result.wrongCount++;
      push(this.#result.wrong, {
        check: "lock-overlap",
        where: this.#where,
        detail: `${interval.key}: ${interval.holder} acquired ${(last.released - interval.acquired).toFixed(2)} ms before ${last.holder} released it`,
      });
    }
    if (!last || interval.released > last.released) this.#last.set(interval.key, interval);
  }
}

/**
 * {@link LockChecker} over a whole recording at once.
 *
 * @example
 * const { wrong } = checkLocks("redis", intervals, 30_000);
 */
export function checkLocks(where: string, intervals: readonly LockInterval[], ttlMs: number): LockCheck {
  const checker = new LockChecker(where, ttlMs);
  checker.add(intervals);
  return checker.finish();
}

/** Wrong answers kept per checker (the rest only counted by the caller's totals). */
const KEPT = 100;
function push(list: WrongAnswer[], wrong: WrongAnswer): void {
  if (list.length < KEPT) list.push(wrong);
}

/** One limiter decision as the caller saw it: Date.now() before the call and after it, and the answer. */
export interface LimitDecision {
  /** Who called, e.g. `p1`. */
  caller: string;
  start: number;
  end: number;
  success: boolean;
  remaining: number;
  /** Epoch ms when the window ends, as answered (the caller's clock + the store's time left). */
  reset: number;
}

/** What {@link FixedWindowChecker} found: wrong answers, and how many windows it could and could not decide. */
export interface FixedWindowCheck {
  /** The first wrong answers (up to 100). */
  wrong: WrongAnswer[];
  /** All wrong answers. */
  wrongCount: number;
  windows: number;
  /** Windows left out because a call in them took `maxLatencyMs` or longer (its window cannot be told apart). */
  undecided: number;
  admitted: number;
  refused: number;
  /** Decisions that came after their window was settled (the caller's watermark was wrong): not judged. */
  late: number;
}

/** Options of {@link FixedWindowChecker}. */
export interface FixedWindowOptions {
  limit: number;
  periodMs: number;
  /** A window with a call this slow or slower is not judged; at most `periodMs / 2`. */
  maxLatencyMs: number;
}

/**
 * A fixed-window limiter shared by every caller whose decisions are added (both processes on a
 * shared store; one process on `mem://`). A call's window end is `reset` minus up to its own
 * latency (`reset` = the caller's clock when the answer arrived + the store's time left), and
 * successive windows end at least `periodMs` apart; so when every call of a window took under
 * `maxLatencyMs` (≤ period / 2), sorting by `reset` and cutting at gaps over `periodMs / 2` groups
 * exactly the calls of one window. A window (group) is wrong when it admitted more than `limit`,
 * when two admitted calls were told the same `remaining`, or when it refused a call although it
 * admitted fewer than `limit` in all (the count was below the limit the whole window). A group with
 * a slow call is not judged, nor is the last rule for the groups next to it (a slow call can take
 * part of a window). The last rule assumes every call was added: `finish(false)` drops it when
 * some call failed (its outcome is unknown).
 *
 * Incremental: `settle(watermark)` judges the windows that can no longer change, given that every
 * decision still to come has `reset >= watermark` (`reset` is never before the call started, so
 * the start of the oldest call still in flight, or the time the logs were sent, will do).
 *
 * @example
 * const limiter = new FixedWindowChecker("redis", { limit: 100, periodMs: 2000, maxLatencyMs: 500 });
 * limiter.add(decisions);
 * limiter.settle(oldestCallInFlight);
 * const { wrong, windows } = limiter.finish(noLimiterCallFailed);
 */
export class FixedWindowChecker {
  readonly #where: string;
  readonly #options: FixedWindowOptions;
  #pending: LimitDecision[] = [];
  /** Whether the last judged group had a slow call (for the next one's under-admission rule). */
  #previousSlow = false;
  /** Every decision from now on must have a reset at or after this. */
  #settledUpTo = Number.NEGATIVE_INFINITY;
  readonly #wrong: WrongAnswer[] = [];
  readonly #underAdmissions: WrongAnswer[] = [];
  readonly #counts = { windows: 0, undecided: 0, admitted: 0, refused: 0, late: 0 };
  #wrongCount = 0;
  #underCount = 0;

  constructor(where: string, options: FixedWindowOptions) {
    if (!(options.maxLatencyMs <= options.periodMs / 2)) {
      throw new RangeError(`FixedWindowChecker: maxLatencyMs (${options.maxLatencyMs}) must be at most half the period (${options.periodMs})`);
    }
    this.#where = where;
    this.#options = options;
  }

  /** Adds decisions (any order). */
  add(decisions: readonly LimitDecision[]): void {
    for (const d of decisions) {
      if (d.reset < this.#settledUpTo) this.#counts.late++;
      else this.#pending.push(d);
    }
  }

  /** Judges the windows no decision still to come can join (every one of them has `reset >= watermark`). */
  settle(watermark: number): void {
    const groups = this.#groups();
    const half = this.#options.periodMs / 2;
    // Closed: no later reset (>= watermark) is within half a period of its first. The last closed
    // group stays pending, so each judged group knows whether the next one is slow.
    let closed = 0;
    while (closed < groups.length && groups[closed]![0]!.reset + half < watermark) closed++;
    for (let i = 0; i + 1 < closed; i++) this.#judge(groups[i]!, groups[i + 1]!);
    if (closed > 1) {
      this.#pending = groups.slice(closed - 1).flat();
      this.#settledUpTo = Math.max(this.#settledUpTo, groups[closed - 1]![0]!.reset);
    }
  }

  /** Judges every window left. `exhaustive`: every call was added (none failed), so the under-admission rule applies. */
  finish(exhaustive = true): FixedWindowCheck {
    const groups = this.#groups();
    groups.forEach((group, i) => this.#judge(group, groups[i + 1]));
    this.#pending = [];
    this.#settledUpTo = Number.POSITIVE_INFINITY;
    const wrong = [...this.#wrong, ...(exhaustive ? this.#underAdmissions : [])].slice(0, KEPT);
    return { wrong, wrongCount: this.#wrongCount + (exhaustive ? this.#underCount : 0), ...this.#counts };
  }

  #groups(): LimitDecision[][] {
    this.#pending.sort((a, b) => a.reset - b.reset);
    const groups: LimitDecision[][] = [];
    for (const decision of this.#pending) {
      const group = groups[groups.length - 1];
      if (group && decision.reset - group[0]!.reset <= this.#options.periodMs / 2) group.push(decision);
      else groups.push([decision]);
    }
    return groups;
  }

  #slow(group: readonly LimitDecision[] | undefined): boolean {
    return group !== undefined && group.some((d) => d.end - d.start >= this.#options.maxLatencyMs);
  }

  #judge(group: readonly LimitDecision[], next: readonly LimitDecision[] | undefined): void {
    const { limit } = this.#options;
    const where = this.#where;
    const ok = group.filter((d) => d.success);
    this.#counts.admitted += ok.length;
    this.#counts.refused += group.length - ok.length;
    const slow = this.#slow(group);
    const previousSlow = this.#previousSlow;
    this.#previousSlow = slow;
    if (slow) {
      this.#counts.undecided++;
      return;
    }
    this.#counts.windows++;
    const window = `window ending ~${new Date(group[0]!.reset).toISOString()}`;
    if (ok.length > limit) {
      this.#wrongCount++;
      push(this.#wrong, { check: "over-admission", where, detail: `${window}: ${ok.length} admitted, limit ${limit} (${callers(ok)})` });
    }
    const seen = new Map<number, LimitDecision>();
    for (const d of ok) {
      const twin = seen.get(d.remaining);
      if (twin) {
        this.#wrongCount++;
        push(this.#wrong, { check: "same-remaining", where, detail: `${window}: ${twin.caller} and ${d.caller} were both admitted with remaining ${d.remaining}` });
      } else seen.set(d.remaining, d);
    }
    const no = group.find((d) => !d.success);
    if (no && ok.length < limit && !previousSlow && !this.#slow(next)) {
      this.#underCount++;
      push(this.#underAdmissions, { check: "under-admission", where, detail: `${window}: ${no.caller} refused while the window admitted only ${ok.length} of ${limit}` });
    }
  }
}

/**
 * {@link FixedWindowChecker} over a whole recording at once.
 *
 * @example
 * const result = checkFixedWindow("redis", decisions, { limit: 100, periodMs: 2000, maxLatencyMs: 500 });
 */
export function checkFixedWindow(where: string, decisions: readonly LimitDecision[], options: FixedWindowOptions & { exhaustive?: boolean }): FixedWindowCheck {
  const checker = new FixedWindowChecker(where, options);
  checker.add(decisions);
  return checker.finish(options.exhaustive ?? true);
}

function callers(decisions: readonly LimitDecision[]): string {
  const counts = new Map<string, number>();
  for (const d of decisions) counts.set(d.caller, (counts.get(d.caller) ?? 0) + 1);
  return [...counts].map(([caller, n]) => `${caller}: ${n}`).join(", ");
}
