import type { ClickEvent, ItemEvent } from '../../../streams/model/events.js';
import { hashString, Random } from '../../../streams/util/random.js';
import type { StreamingMethod, StreamShape } from '../harness.js';
import { DecayedScores, ItemCatalogue, SeenItems, TopK, topByScore } from './common.js';

export interface AlsConfig {
  readonly factors: number;
  readonly regularization: number;
  /** Confidence of an observed interaction: 1 + alpha · count (Hu, Koren, Volinsky 2008). */
  readonly alpha: number;
  /** Alternating sweeps (users, then items) per retraining, warm-started from the last factors. */
  readonly sweeps: number;
  /** Conjugate-gradient steps per least-squares solve (Takács, Pilászy, Tikk 2011). */
  readonly cgSteps: number;
  /** Retrain after every this fraction of the stream's clicks (0.01: every 1%). */
  readonly retrainFraction: number;
  readonly seed: number;
  /** Half-life of the popularity that serves users without a vector and fills lists (0 = counts). */
  readonly fallbackHalfLifeHours: number;
}

export const DEFAULT_ALS_CONFIG: AlsConfig = {
  factors: 32,
  regularization: 0.1,
  alpha: 10,
  sweeps: 2,
  cgSteps: 3,
  retrainFraction: 0.01,
  seed: 1,
  fallbackHalfLifeHours: 24,
};

/**
 * Implicit-feedback ALS retrained live: every `retrainFraction` of the stream the factors are
 * re-fitted to every interaction so far (warm-started, conjugate-gradient solves), and between
 * retrainings each click folds the user's vector in again against the fixed item factors, so a
 * session's lists follow its clicks. Items first seen since the last retraining have no factors
 * yet and are only reachable through the popularity fill.
 */
export class AlsMethod implements StreamingMethod {
  private readonly catalogue = new ItemCatalogue();
  private readonly seen = new SeenItems();
  private readonly popularity: DecayedScores;
  private readonly heap = new TopK(20);
  /** Per user: item index → interaction count. */
  private readonly interactions: Map<number, number>[] = [];
  private readonly userIndex = new Map<string, number>();
  private userFactors = new Float64Array(0);
  private itemFactors = new Float64Array(0);
  /** Items with factors (those known at the last retraining). */
  private trainedItems = 0;
  /** Scratch Gram matrix of the side held fixed while the other is solved. */
  private readonly gram: Float64Array;
  /** YᵀY of the item factors as of the last retraining: what every fold-in solves against. */
  private readonly itemGram: Float64Array;
  private readonly scratch: Float64Array[];
  private retrainEvery = Number.POSITIVE_INFINITY;
  private sinceRetrain = 0;

  constructor(
    private readonly config: AlsConfig = DEFAULT_ALS_CONFIG,
    readonly name = 'als',
  ) {
    if (!Number.isInteger(config.factors) || config.factors < 1) {
      throw new RangeError(`factors must be a positive integer, got ${config.factors}`);
    }
    if (!(config.retrainFraction > 0 && config.retrainFraction <= 1)) {
      throw new RangeError(`retrainFraction must be in (0, 1], got ${config.retrainFraction}`);
    }
    const f = config.factors;
    this.gram = new Float64Array(f * f);
    this.itemGram = new Float64Array(f * f);
    this.scratch = [0, 1, 2, 3, 4].map(() => new Float64Array(f));
    this.popularity = new DecayedScores(config.fallbackHalfLifeHours);
  }

  start(catalog: readonly ItemEvent[], stream?: StreamShape): void {
    for (const event of catalog) this.catalogue.apply(event);
    const clicks = stream?.clicks ?? 100_000;
    this.retrainEvery = Math.max(1, Math.round(clicks * this.config.retrainFraction));
  }

  catalog(event: ItemEvent): void {
    this.catalogue.apply(event);
  }

  serve(userId: string, k: number): string[] {
    const seen = this.seen.of(userId);
    const heap = this.heap;
    heap.reset(k);
    const user = this.userIndex.get(userId);
    const f = this.config.factors;
    if (user !== undefined && this.trainedItems > 0 && user * f < this.userFactors.length) {
      const u = this.userFactors.subarray(user * f, user * f + f);
      for (let i = 0; i < this.trainedItems; i++) {
        if (seen.has(i) || !this.catalogue.isAvailable(i)) continue;
        let score = 0;
        for (let j = 0, at = i * f; j < f; j++, at++) score += u[j]! * this.itemFactors[at]!;
        heap.offer(i, score);
      }
    }
    const picked = heap.sorted();
    if (picked.length < k) {
      const taken = new Set(picked);
      for (const i of topByScore(this.catalogue, this.popularity, seen, k - picked.length, heap, taken)) {
        picked.push(i);
      }
    }
    return picked.map((i) => this.catalogue.ids[i]!);
  }

  learn(event: ClickEvent): void {
    const item = this.catalogue.ensure(event.itemId);
    this.seen.add(event.userId, item);
    this.popularity.add(item, 1, event.eventTime);
    let user = this.userIndex.get(event.userId);
    if (user === undefined) {
      user = this.interactions.length;
      this.userIndex.set(event.userId, user);
      this.interactions.push(new Map());
    }
    const row = this.interactions[user]!;
    row.set(item, (row.get(item) ?? 0) + 1);
    if (++this.sinceRetrain >= this.retrainEvery) {
      this.sinceRetrain = 0;
      this.retrain();
    } else if (this.trainedItems > 0) {
      // Fold in: the user's least-squares solution against the fixed item factors.
      this.ensureUserRows(user + 1);
      this.solveRow(user, this.userFactors, this.itemFactors, this.trainedItems, row, this.itemGram);
    }
  }

  /** Re-fits both sides to every interaction so far, starting from the current factors. */
  private retrain(): void {
    const f = this.config.factors;
    const items = this.catalogue.size;
    if (items * f > this.itemFactors.length) {
      const grown = new Float64Array(items * f);
      grown.set(this.itemFactors);
      for (let i = this.itemFactors.length / f; i < items; i++) this.initialise(grown, i, `i${i}`);
      this.itemFactors = grown;
    }
    this.trainedItems = items;
    this.ensureUserRows(this.interactions.length);
    const byItem: Map<number, number>[] = Array.from({ length: items }, () => new Map());
    this.interactions.forEach((row, user) => {
      for (const [item, count] of row) byItem[item]!.set(user, count);
    });
    const users = this.interactions.length;
    for (let sweep = 0; sweep < this.config.sweeps; sweep++) {
      this.computeGram(this.itemFactors, items, this.gram);
      for (let u = 0; u < users; u++) {
        this.solveRow(u, this.userFactors, this.itemFactors, items, this.interactions[u]!, this.gram);
      }
      this.computeGram(this.userFactors, users, this.gram);
      for (let i = 0; i < items; i++) {
        this.solveRow(i, this.itemFactors, this.userFactors, users, byItem[i]!, this.gram);
      }
    }
    this.computeGram(this.itemFactors, items, this.itemGram);
  }

  private ensureUserRows(rows: number): void {
    const f = this.config.factors;
    if (rows * f <= this.userFactors.length) return;
    const grown = new Float64Array(Math.max(rows, (this.userFactors.length / f) * 2) * f);
    grown.set(this.userFactors);
    for (let u = this.userFactors.length / f; u < grown.length / f; u++) this.initialise(grown, u, `u${u}`);
    this.userFactors = grown;
  }

  private initialise(factors: Float64Array, row: number, key: string): void {
    const f = this.config.factors;
    const init = new Random(hashString(key, this.config.seed));
    for (let j = 0; j < f; j++) factors[row * f + j] = init.normal() * 0.01;
  }

  /** gram = YᵀY over the first `rows` rows of `factors`. */
  private computeGram(factors: Float64Array, rows: number, gram: Float64Array): void {
    const f = this.config.factors;
    gram.fill(0);
    for (let r = 0; r < rows; r++) {
      const at = r * f;
      for (let a = 0; a < f; a++) {
        const ya = factors[at + a]!;
        if (ya === 0) continue;
        for (let b = a; b < f; b++) gram[a * f + b] = gram[a * f + b]! + ya * factors[at + b]!;
      }
    }
    for (let a = 0; a < f; a++) for (let b = 0; b < a; b++) gram[a * f + b] = gram[b * f + a]!;
  }

  /**
   * Solves (YᵀY + Yᵀ(C − I)Y + λI) x = Yᵀ C p for one row by conjugate gradient, warm-started
   * from the row's current x. `observed` maps column index → count; `gram` is YᵀY.
   */
  private solveRow(
    row: number,
    target: Float64Array,
    other: Float64Array,
    otherRows: number,
    observed: ReadonlyMap<number, number>,
    gram: Float64Array,
  ): void {
    const f = this.config.factors;
    const { alpha, regularization, cgSteps } = this.config;
    const [x, r, p, ap, tmp] = this.scratch as [
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
    ];
    const base = row * f;
    for (let j = 0; j < f; j++) x[j] = target[base + j]!;
    // A·v = gram·v + λv + Σ_observed (c − 1)(y·v) y
    const multiply = (v: Float64Array, out: Float64Array): void => {
      for (let a = 0; a < f; a++) {
        let sum = regularization * v[a]!;
        for (let b = 0, at = a * f; b < f; b++, at++) sum += gram[at]! * v[b]!;
        out[a] = sum;
      }
      for (const [column, count] of observed) {
        if (column >= otherRows) continue;
        const at = column * f;
        let dotted = 0;
        for (let j = 0; j < f; j++) dotted += other[at + j]! * v[j]!;
        const weight = alpha * count * dotted;
        for (let j = 0; j < f; j++) out[j] = out[j]! + weight * other[at + j]!;
      }
    };
    // r = b − A·x, with b = Σ_observed c · y
    multiply(x, tmp);
    for (let j = 0; j < f; j++) r[j] = -tmp[j]!;
    for (const [column, count] of observed) {
      if (column >= otherRows) continue;
      const c = 1 + alpha * count;
      for (let j = 0, at = column * f; j < f; j++, at++) r[j] = r[j]! + c * other[at]!;
    }
    p.set(r);
    let rr = 0;
    for (let j = 0; j < f; j++) rr += r[j]! * r[j]!;
    for (let step = 0; step < cgSteps && rr > 1e-12; step++) {
      multiply(p, ap);
      let pap = 0;
      for (let j = 0; j < f; j++) pap += p[j]! * ap[j]!;
      if (pap <= 0) break;
      const a = rr / pap;
      let next = 0;
      for (let j = 0; j < f; j++) {
        x[j] = x[j]! + a * p[j]!;
        r[j] = r[j]! - a * ap[j]!;
        next += r[j]! * r[j]!;
      }
      const beta = next / rr;
      rr = next;
      for (let j = 0; j < f; j++) p[j] = r[j]! + beta * p[j]!;
    }
    for (let j = 0; j < f; j++) target[base + j] = x[j]!;
  }
}
