/**
 * Waiting in the conformance tests: sleeps and polls with generous deadlines, never tight timing.
 * @module
 */

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sleeps until `ms` after `t0` (a `performance.now()` reading). */
export const sleepUntil = (t0: number, ms: number): Promise<void> => sleep(Math.max(0, t0 + ms - performance.now()));

/** Polls until `check` holds (generous deadline: no tight timing asserts). */
export async function until(check: () => boolean | Promise<boolean>, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await sleep(10);
  }
}
