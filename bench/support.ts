/**
 * Helpers shared by the benchmarks: order statistics over repeats, process-memory sampling and
 * plain-text tables. Benchmarks measure; they never assert a number.
 */

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const MB = 1024 * 1024;

/** A mistake on a benchmark's command line: the benchmark prints it with its usage and exits 2. */
export class UsageError extends Error {}

/** `--name`'s value as an integer ≥ `min`, or `fallback` when the flag is absent. */
export function integerFlag<F extends number | undefined>(
  name: string,
  raw: string | undefined,
  fallback: F,
  min = 1,
): number | F {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Runs a flag parser (node:util parseArgs), its errors rethrown as UsageError. */
export function parseFlags<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * A benchmark's settings from its command line: `parse` returns null for `--help`, which prints the
 * usage (exit code 0); a UsageError prints the message and the usage (exit code 2).
 */
export function settingsOrExitCode<S extends object>(parse: () => S | null, usage: string): S | 0 | 2 {
  let settings: S | null;
  try {
    settings = parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${usage}\n`);
    return 2;
  }
  if (settings === null) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  return settings;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Median (mean of the two middle values for an even count), min and max; NaN for no values. */
export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = finite.length;
  if (n === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const mid = n >>> 1;
  const median = n % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
  return { median, min: finite[0]!, max: finite[n - 1]! };
}

/**
 * The garbage collector, so every variant starts from the same settled heap. Uses `--expose-gc` when
 * given, otherwise turns the flag on at run time (V8 then exposes `gc` to new contexts).
 */
export function garbageCollector(): (() => void) | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return () => void exposed();
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') return () => void gc();
  } catch {
    // Not available: variants then start from whatever the previous one left behind.
  }
  return null;
}

/**
 * Peak resident set size while a variant runs: sampled on a timer (for work that yields to the
 * event loop) and by explicit `sample()` calls (for synchronous loops, which timers cannot interrupt).
 */
export class RssSampler {
  readonly startBytes: number;
  private peak: number;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(intervalMs = 10) {
    this.startBytes = process.memoryUsage.rss();
    this.peak = this.startBytes;
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  /** Stops sampling; returns the peak in bytes (including a last sample). */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

/** The nearest ancestor of this module's directory holding `package.json` (the repository root). */
export function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/** `1234567.8` → `1,234,568`; NaN → `–`. */
export function formatCount(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–';
}

/** Fixed decimals; NaN → `–`. */
export function formatFixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/** `median [min–max]` with one formatter for all three. */
export function formatSpread(s: Spread, format: (v: number) => string): string {
  if (!Number.isFinite(s.median)) return '–';
  return `${format(s.median)} [${format(s.min)}–${format(s.max)}]`;
}

/** A Markdown table (readable as plain text too), columns padded to their widest cell. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** A progress line on stderr, so stdout carries only results. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}
