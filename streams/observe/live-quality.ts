/**
 * Live recommendation quality: each positive interaction is scored against the last list Eddy
 * served that user (before the interaction is learned from), the prequential "test, then train"
 * protocol. Kept both cumulatively and over a sliding window of recent interactions.
 */
export interface QualitySnapshot {
  readonly evaluated: number;
  readonly hitRate: number;
  readonly ndcg: number;
  readonly recentHitRate: number;
  readonly recentNdcg: number;
}

export class LiveQuality {
  private readonly hits: Uint8Array;
  private readonly gains: Float64Array;
  private next = 0;
  private filled = 0;
  private recentHits = 0;
  private recentGain = 0;
  evaluated = 0;
  totalHits = 0;
  totalGain = 0;

  constructor(window = 10_000) {
    this.hits = new Uint8Array(window);
    this.gains = new Float64Array(window);
  }

  /**
   * Records one evaluated interaction. `rank` is the 1-based position of the interacted item in
   * the user's last list, or 0 when it was not in the list.
   */
  record(rank: number): void {
    const hit = rank > 0 ? 1 : 0;
    const gain = rank > 0 ? 1 / Math.log2(rank + 1) : 0;
    if (this.filled === this.hits.length) {
      this.recentHits -= this.hits[this.next]!;
      this.recentGain -= this.gains[this.next]!;
    } else this.filled++;
    this.hits[this.next] = hit;
    this.gains[this.next] = gain;
    this.next = (this.next + 1) % this.hits.length;
    this.recentHits += hit;
    this.recentGain += gain;
    this.evaluated++;
    this.totalHits += hit;
    this.totalGain += gain;
  }

  snapshot(): QualitySnapshot {
    return {
      evaluated: this.evaluated,
      hitRate: this.evaluated > 0 ? this.totalHits / this.evaluated : 0,
      ndcg: this.evaluated > 0 ? this.totalGain / this.evaluated : 0,
      recentHitRate: this.filled > 0 ? this.recentHits / this.filled : 0,
      recentNdcg: this.filled > 0 ? this.recentGain / this.filled : 0,
    };
  }
}
