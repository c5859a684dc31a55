/**
 * Ranking metrics of the prequential protocol. Each event has exactly one relevant item (the one
 * the user interacted with next), so HR@k is 1 when it is in the top k, NDCG@k is 1/log2(rank + 1)
 * (the ideal DCG of a single relevant item is 1), and MRR@k is 1/rank, all 0 beyond k.
 */

/** Metrics are reported at 10; lists are served at 20 so HR@20 can be reported too. */
export const CUTOFF = 10;
export const LIST_SIZE = 20;

/** 1-based position of `itemId` in the first `limit` entries of `list`, 0 when absent. */
export function rankOf(list: readonly string[], itemId: string, limit = LIST_SIZE): number {
  const n = Math.min(list.length, limit);
  for (let i = 0; i < n; i++) if (list[i] === itemId) return i + 1;
  return 0;
}

export function hitAt(rank: number, k: number): number {
  return rank > 0 && rank <= k ? 1 : 0;
}

export function ndcgAt(rank: number, k: number): number {
  return rank > 0 && rank <= k ? 1 / Math.log2(rank + 1) : 0;
}

export function reciprocalRankAt(rank: number, k: number): number {
  return rank > 0 && rank <= k ? 1 / rank : 0;
}

/** Sums over events; divided by `events` only when reported, so cells can be merged exactly. */
export class MetricSums {
  events = 0;
  hits10 = 0;
  ndcg10 = 0;
  mrr10 = 0;
  hits20 = 0;

  add(rank: number): void {
    this.events++;
    this.hits10 += hitAt(rank, CUTOFF);
    this.ndcg10 += ndcgAt(rank, CUTOFF);
    this.mrr10 += reciprocalRankAt(rank, CUTOFF);
    this.hits20 += hitAt(rank, LIST_SIZE);
  }
}

export interface SplitMetrics {
  readonly 'hr@10': number;
  readonly 'ndcg@10': number;
  readonly 'mrr@10': number;
  readonly 'hr@20': number;
  /** Distinct items in the served top-10 lists of this cell / catalogue size. */
  readonly coverage: number;
  readonly events: number;
  /** Of the whole run (serve + learn + scoring of every event), not of this cell alone. */
  readonly eventsPerSecond: number;
}

export function summarize(
  sums: MetricSums,
  coveredItems: number,
  catalogueSize: number,
  eventsPerSecond: number,
): SplitMetrics {
  const n = sums.events;
  const mean = (total: number): number => (n > 0 ? total / n : Number.NaN);
  return {
    'hr@10': mean(sums.hits10),
    'ndcg@10': mean(sums.ndcg10),
    'mrr@10': mean(sums.mrr10),
    'hr@20': mean(sums.hits20),
    coverage: catalogueSize > 0 ? coveredItems / catalogueSize : Number.NaN,
    events: n,
    eventsPerSecond,
  };
}
