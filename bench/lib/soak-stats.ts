/**
 * The soak's numbers (bench/soak.ts): a fixed-size latency histogram (memory does not grow with
 * the run's length, so it does not bias the heap measurement), heap growth and its verdict.
 * Pure code; speed is reported, never asserted.
 *
 * @module
 */

/** Bucket i holds latencies in [GROWTH^(i-1), GROWTH^i) µs: ~4 % resolution from 1 µs to hours. */
const GROWTH = 1.04;
const BUCKETS = 640;
const LOG = Math.log(GROWTH);

/**
 * A latency histogram of fixed size (log buckets, ~4 % wide). Mergeable across processes
 * (`counts` travels over IPC as a plain array).
 *
 * @example
 * const h = new Histogram();
 * h.record(0.35); // ms
 * h.quantile(0.99); // ms, the bucket's upper edge
 */
export class Histogram {
  readonly counts: number[];
  total = 0;

  constructor(counts?: readonly number[]) {
    this.counts = counts ? [...counts] : new Array<number>(BUCKETS).fill(0);
    for (const c of this.counts) this.total += c;
  }

  /** Records one latency in ms. */
  record(ms: number): void {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG));
    this.counts[i]!++;
    this.total++;
  }

  /** Adds another histogram's counts. */
  merge(other: { counts: readonly number[] }): void {
    other.counts.forEach((c, i) => {
      this.counts[i]! += c;
      this.total += c;
    });
  }

  /** The `q` quantile (0–1) in ms (upper edge of its bucket); NaN when empty. */
  quantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return GROWTH ** i / 1000;
    }
    return Number.NaN;
  }
}

/** One heap sample of a worker: ms since the load started, `heapUsed` in bytes (after `gc()` when exposed). */
export interface HeapSample {
  t: number;
  heapUsed: number;
  /** Taken after the load stopped (shown, but not part of the growth rule). */
  idle?: boolean;
}

/** The heap rule's inputs and verdict for one process. */
export interface HeapGrowth {
  /** Median heapUsed of the first third of the samples, and of the last third (bytes). */
  first: number;
  last: number;
  /** The most the last third may reach: first × `factor` + `slackBytes`. */
  allowed: number;
  /** `undefined` when there are too few samples (fewer than 6) to judge. */
  ok: boolean | undefined;
}

/** The heap growth rule: the last third's median may not exceed the first third's median × 1.5 + 8 MB. */
export const HEAP_RULE = { factor: 1.5, slackBytes: 8 * 1024 * 1024, minSamples: 6 } as const;

/**
 * Heap growth of one process over the run: the median of the last third of its samples against
 * the median of the first third ({@link HEAP_RULE}); samples taken after the load stopped are left
 * out. Noise (GC timing, JIT code) moves single
 * samples; a leak moves the medians.
 *
 * @example
 * const growth = heapGrowth(samples);
 * if (growth.ok === false) process.exitCode = 1;
 */
export function heapGrowth(all: readonly HeapSample[]): HeapGrowth {
  const samples = all.filter((s) => !s.idle);
  const third = Math.floor(samples.length / 3);
  const median = (xs: readonly HeapSample[]): number => {
    const sorted = xs.map((s) => s.heapUsed).sort((a, b) => a - b);
    return sorted.length ? sorted[(sorted.length - 1) >> 1]! : Number.NaN;
  };
  const first = median(samples.slice(0, third));
  const last = median(samples.slice(samples.length - third));
  const allowed = first * HEAP_RULE.factor + HEAP_RULE.slackBytes;
  return { first, last, allowed, ok: samples.length < HEAP_RULE.minSamples ? undefined : last <= allowed };
}

/**
 * Megabytes with one decimal.
 * @example
 * mb(16_777_216); // "16.0"
 */
export const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/**
 * Milliseconds for a table: about 3 significant digits, `-` for NaN.
 * @example
 * ms(0.0123); // "0.012"
 */
export const ms = (value: number): string => (Number.isNaN(value) ? "-" : value < 1 ? value.toFixed(3) : value < 100 ? value.toFixed(2) : value.toFixed(0));

/**
 * A plain-text table with aligned columns (first column left, the rest right).
 * @example
 * console.log(table(["op", "p50"], [["get", "0.12"]]));
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
