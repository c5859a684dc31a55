/**
 * Exact percentiles over the most recent `capacity` samples (a ring buffer), for the human
 * summary. Prometheus gets histograms; people want "p99 = 4.2 ms".
 */
export class LatencyRecorder {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;
  total = 0;

  constructor(capacity = 16_384) {
    this.samples = new Float64Array(capacity);
  }

  record(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
    this.total++;
  }

  /** Percentiles (0–100) of the retained samples, nearest-rank; NaN when empty. */
  percentiles(...ps: number[]): number[] {
    if (this.filled === 0) return ps.map(() => Number.NaN);
    const sorted = this.samples.slice(0, this.filled).sort();
    return ps.map(
      (p) => sorted[Math.min(this.filled - 1, Math.max(0, Math.ceil((p / 100) * this.filled) - 1))]!,
    );
  }
}
