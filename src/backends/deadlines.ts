/**
 * One fixed timeout for many concurrent operations, with a single timer: what bounds the Redis
 * backend's commands (instead of a timer per command).
 *
 * Operations are kept in issue order, so their deadlines are ascending: the timer only ever
 * waits for the oldest one still pending. Replies on one connection arrive in order too, so a
 * settled operation is almost always the oldest and leaves the list at once (nothing is kept
 * for long). The timer is not cleared when the list empties: it fires at most once per timeout,
 * finds nothing (or the next pending operation) and re-arms only for what is still pending. It
 * never keeps a process alive by itself.
 * @internal
 * @module
 */

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
   * operation itself is not cancelled; its late outcome is ignored).
   */
  bound<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const op: Bounded = { at: 0, settled: false, next: undefined, expire: reject };
      this.add(op);
      promise.then(
        (value) => {
          if (this.settle(op)) resolve(value);
        },
        (error: unknown) => {
          if (this.settle(op)) reject(error);
        },
      );
    });
  }

  /**
   * Stops the timer and forgets the pending operations without expiring them (their own
   * outcomes still settle them, e.g. the rejections of a closed connection).
   */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#head = this.#tail = undefined;
  }

  #dropSettled(): void {
    let op = this.#head;
    while (op !== undefined && op.settled) op = op.next;
    this.#head = op;
    if (op === undefined) this.#tail = undefined;
  }

  #arm(delay: number, at: number): void {
    this.#firesAt = at;
    const timer = setTimeout(() => this.#fire(), Math.max(0, Math.ceil(delay)));
    (timer as { unref?: () => void }).unref?.();
    this.#timer = timer;
  }

  #fire(): void {
    this.#timer = undefined;
    // Timers may fire a little early by performance.now(): allow for it.
    const now = Math.max(performance.now(), this.#firesAt);
    this.#dropSettled();
    let op = this.#head;
    while (op !== undefined && op.at <= now) {
      const next = op.next;
      if (!op.settled) {
        op.settled = true;
        op.expire(this.error());
      }
      op = next;
    }
    this.#head = op;
    if (op === undefined) this.#tail = undefined;
    else {
      this.#dropSettled();
      if (this.#head !== undefined) this.#arm(this.#head.at - now, this.#head.at);
    }
  }
}
