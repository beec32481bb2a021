/**
 * Bounds on a network backend's commands, and what happens after one is overrun.
 *
 * {@link Deadlines}: one fixed timeout for many concurrent operations, with a single timer: what
 * bounds the Redis backend's commands (instead of a timer per command).
 *
 * Operations are kept in issue order, so their deadlines are ascending: the timer only ever
 * waits for the oldest one still pending. Replies on one connection arrive in order too, so a
 * settled operation is almost always the oldest and leaves the list at once (nothing is kept
 * for long). The timer is not cleared when the list empties: it fires at most once per timeout,
 * finds nothing (or the next pending operation) and re-arms only for what is still pending. It
 * never keeps a process alive by itself.
 *
 * {@link Responsiveness}: once a command has timed out, the backend is taken for unresponsive and
 * every further command fails at once, until one probe (a PING bounded by the same timeout)
 * answers; so a call that makes several commands in a row pays at most one timeout.
 * @internal
 * @module
 */
import { unrefTimer } from "./clock.js";

/** An operation under a deadline: `expire` runs (once) if it has not settled in time. */
export interface Bounded {
  /** Deadline (`performance.now()` ms), set by {@link Deadlines.add}. */
  at: number;
  /** Set by {@link Deadlines.settle} or on expiry. */
  settled: boolean;
  /** Next operation in issue order. */
  next: Bounded | undefined;
  expire(error: Error): void;
}

type Timer = ReturnType<typeof setTimeout>;

export class Deadlines {
  #head: Bounded | undefined;
  #tail: Bounded | undefined;
  #timer: Timer | undefined;
  /** When the armed timer fires (ms, `performance.now()`). */
  #firesAt = 0;

  /**
   * @param ms The timeout of every operation.
   * @param error The error an expired operation gets.
   */
  constructor(
    readonly ms: number,
    readonly error: () => Error,
    /** Called (after the expiries) each time the timer has expired at least one operation. */
    readonly onExpire?: (error: Error) => void,
  ) {}

  /** Starts the clock of `op` (which must not be settled yet). */
  add(op: Bounded): void {
    op.at = performance.now() + this.ms;
    op.settled = false;
    op.next = undefined;
    if (this.#tail === undefined) this.#head = op;
    else this.#tail.next = op;
    this.#tail = op;
    if (this.#timer === undefined) this.#arm(this.ms, op.at);
  }

  /** Marks `op` done; returns false when it had already expired (or settled). */
  settle(op: Bounded): boolean {
    if (op.settled) return false;
    op.settled = true;
    if (op === this.#head) this.#dropSettled();
    return true;
  }

  /**
   * `promise`, or a rejection with the timeout error once the timeout has passed (the
   * operation itself is not cancelled; its late outcome is ignored). `wrap`, when given, maps
   * either rejection (the operation's error or the timeout's) to the one to reject with.
   */
  bound<T>(promise: Promise<T>, wrap?: (error: unknown) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = wrap === undefined ? reject : (error: unknown) => reject(wrap(error));
      const op: Bounded = { at: 0, settled: false, next: undefined, expire: fail };
      this.add(op);
      promise.then(
        (value) => {
          if (this.settle(op)) resolve(value);
        },
        (error: unknown) => {
          if (this.settle(op)) fail(error);
        },
      );
    });
  }

  /** Expires every pending operation now, with `error` (the backend is known not to answer). */
  expireAll(error: Error): void {
    let op = this.#head;
    this.#head = this.#tail = undefined;
    while (op !== undefined) {
      const next = op.next;
      if (!op.settled) {
        op.settled = true;
        op.expire(error);
      }
      op = next;
    }
  }

  #dropSettled(): void {
    let op = this.#head;
    while (op !== undefined && op.settled) op = op.next;
    this.#head = op;
    if (op === undefined) this.#tail = undefined;
  }

  #arm(delay: number, at: number): void {
    this.#firesAt = at;
    this.#timer = unrefd(setTimeout(() => this.#fire(), Math.max(0, Math.ceil(delay))));
  }

  #fire(): void {
    this.#timer = undefined;
    // Timers may fire a little early by performance.now(): allow for it.
    const now = Math.max(performance.now(), this.#firesAt);
    this.#dropSettled();
    let op = this.#head;
    let expired: Error | undefined;
    while (op !== undefined && op.at <= now) {
      const next = op.next;
      if (!op.settled) {
        op.settled = true;
        op.expire((expired = this.error()));
      }
      op = next;
    }
    this.#head = op;
    if (op === undefined) this.#tail = undefined;
    else {
      this.#dropSettled();
      if (this.#head !== undefined) this.#arm(this.#head.at - now, this.#head.at);
    }
    if (expired !== undefined) this.onExpire?.(expired);
  }
}

/**
 * Delay (ms) from the moment a backend is taken for unresponsive to its first probe; doubled after
 * each probe that fails, up to {@link MAX_PROBE_DELAY_MS}.
 */
export const FIRST_PROBE_DELAY_MS = 100;
/**
 * Longest delay (ms) between two probes of an unresponsive backend: once it answers again it is
 * used within about this long (plus one round trip).
 */
export const MAX_PROBE_DELAY_MS = 1000;

/** Options of {@link Responsiveness}. */
export interface ResponsivenessOptions {
  /** Names the backend in messages, e.g. `redis://127.0.0.1:6379/0`. */
  name: string;
  /** The command timeout (ms): what the backend failed to meet, and the bound on one probe. */
  ms: number;
  /** One check that the backend answers (e.g. PING); `signal` aborts once the probe is given up (timeout, stop). */
  probe: (signal: AbortSignal) => Promise<unknown>;
  /**
   * `true`: probes are scheduled on timers, in the background (unref'd: they never keep a process
   * alive). `false` (Workers forbid timers outside a request): nothing is scheduled; the first
   * command refused after the back-off starts the probe (and still fails at once).
   */
  background: boolean;
  /** Told once per change to unresponsive (not for each refused command). */
  onDown?: (error: Error) => void;
}

/**
 * Whether a backend answers. Responsive: commands flow (the only cost is a read of {@link down}).
 * A command that times out → {@link markDown}: every pending and further command fails at once
 * with {@link reason}, and one probe at a time (bounded by the timeout) checks the backend, the
 * first {@link FIRST_PROBE_DELAY_MS} later, then with doubling back-off up to
 * {@link MAX_PROBE_DELAY_MS}. A probe that answers (or {@link markUp}, e.g. a fresh connection)
 * → responsive again. {@link stop} (close) → responsive, no timer and no probe left.
 */
export class Responsiveness {
  /** True while the backend is taken for unresponsive: commands must fail at once (see {@link refuse}). */
  down = false;
  /** Why commands fail fast (the message of refused commands). */
  readonly reason: string;
  /** The timeout that made the backend unresponsive (the `cause` of refused commands). */
  cause: Error | undefined;

  #delay = FIRST_PROBE_DELAY_MS;
  /** When the next probe may start (`performance.now()` ms). */
  #nextAt = 0;
  /** The probe in flight (its identity tells its outcome from a cancelled one's). */
  #probe: { since: number; cancel(): void } | undefined;
  #timer: Timer | undefined;

  constructor(readonly options: ResponsivenessOptions) {
    this.reason = `${options.name} did not answer within ${options.ms} ms; commands fail fast until it answers again`;
  }

  /** Takes the backend for unresponsive (`cause`: the timeout); false when it already was. */
  markDown(cause: Error): boolean {
    if (this.down) return false;
    this.down = true;
    this.cause = cause;
    this.#delay = FIRST_PROBE_DELAY_MS;
    this.#scheduleProbe();
    const onDown = this.options.onDown;
    if (onDown !== undefined) {
      try {
        onDown(new Error(this.reason, { cause }));
      } catch {
        // a failing listener must not break the state machine
      }
    }
    return true;
  }

  /** The backend answered: commands flow again. */
  markUp(): void {
    if (this.down) this.stop();
  }

  /**
   * For a command refused while {@link down}: returns {@link reason}. Without background probes,
   * starts the probe once the back-off has passed, or when the one in flight was lost (a Workers
   * request that ended may never settle it).
   */
  refuse(): string {
    if (!this.options.background) {
      const now = performance.now();
      const probe = this.#probe;
      if (probe === undefined ? now >= this.#nextAt : now - probe.since > this.options.ms + MAX_PROBE_DELAY_MS) this.#start();
    }
    return this.reason;
  }

  /** Responsive again, with no timer and no probe left (the backend is closed, or answered). */
  stop(): void {
    this.down = false;
    this.cause = undefined;
    this.#delay = FIRST_PROBE_DELAY_MS;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const probe = this.#probe;
    this.#probe = undefined;
    probe?.cancel();
  }

  #scheduleProbe(): void {
    this.#nextAt = performance.now() + this.#delay;
    if (!this.options.background) return;
    this.#timer = unrefd(
      setTimeout(() => {
        this.#timer = undefined;
        this.#start();
      }, this.#delay),
    );
  }

  /** Starts one probe, bounded by the timeout; its outcome moves the state on unless it was cancelled meanwhile. */
  #start(): void {
    this.#probe?.cancel();
    const ms = this.options.ms;
    const controller = new AbortController();
    let timer: Timer | undefined;
    const outcome = new Promise<unknown>((resolve, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
      timer = unrefd(setTimeout(() => controller.abort(new Error(`probe timed out after ${ms} ms`)), ms));
      let check: Promise<unknown>;
      try {
        check = this.options.probe(controller.signal);
      } catch (error) {
        check = Promise.reject(error);
      }
      check.then(resolve, reject);
    });
    const probe = {
      since: performance.now(),
      cancel: () => {
        clearTimeout(timer);
        controller.abort(new Error("probe cancelled"));
      },
    };
    this.#probe = probe;
    outcome.then(
      () => {
        clearTimeout(timer);
        if (this.#probe === probe) this.stop();
      },
      () => {
        clearTimeout(timer);
        if (this.#probe !== probe) return;
        this.#probe = undefined;
        this.#delay = Math.min(this.#delay * 2, MAX_PROBE_DELAY_MS);
        this.#scheduleProbe();
      },
    );
  }
}

/** `timer`, made unable to keep the process alive (see {@link unrefTimer}). */
function unrefd(timer: Timer): Timer {
  unrefTimer(timer);
  return timer;
}

/**
 * `promise`, or a rejection with `timeoutError()` once `ms` have passed; for one-off waits
 * (connecting, QUIT, a probe) rather than the commands {@link Deadlines} bounds. The timer is
 * always cleared (none outlives the call), and the loser of the race is never an unhandled
 * rejection.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
