import { hashString, Random } from '../util/random.js';
import type { ModelConfig } from './model-config.js';
import { dot, normalizeInto, scaleAndAdd, sigmoid } from './vector-math.js';

/** What Eddy knows about one item: catalog facts plus its online-learned embeddings. */
export interface ItemProfile {
  readonly itemId: string;
  title: string;
  categories: string[];
  available: boolean;
  /** Normalised content vector from the catalog, or null. */
  contentVector: Float32Array | null;
  /**
   * Skip-gram "input" embedding: the item as context of what a user does next. Users are sums of
   * these, and retrieval searches them (normalised, blended with the content vector: `targetVector`).
   */
  readonly embedding: Float32Array;
  /** Skip-gram "output" embedding: the item as a prediction target; trained, never searched. */
  readonly context: Float32Array;
  interactions: number;
  /** The target vector as last written to the vector store, for drift detection; null = never written. */
  published: Float32Array | null;
  /**
   * `targetVector` as last computed for ranking, valid while `targetCurrent`; every change to the
   * embedding, content vector or interaction count clears the flag (`ItemModel.invalidateTarget`).
   */
  cachedTarget: Float32Array | null;
  targetCurrent: boolean;
  /**
   * Bookkeeping of `ItemModel`, not state: the item is known to be in its changed / touched sets
   * (so the hot path skips a string-keyed insert), and has been removed from the model (so a
   * reference kept by negative sampling is looked up again).
   */
  inChanged: boolean;
  inTouched: boolean;
  removed: boolean;
  /**
   * Bookkeeping of `Recommender`, not state: the list (a process-wide round number) that last
   * admitted the item as a candidate, and the candidate's slot in that list's pool, so admitting
   * it again costs no string-keyed look-up.
   */
  candidateRound: number;
  candidateSlot: number;
}

/** Negative sampling's state (see `ItemModel.samplingState`). */
export interface SamplingState {
  negativePool: string[];
  negativeCursor: number;
  random: number[];
}

/**
 * The item side of the model, learned online from interaction sequences: incremental item2vec
 * (skip-gram with negative sampling over each user's recent items), blended with catalog content
 * vectors for cold start. All updates are O(window × negatives × dimension) per event.
 */
export class ItemModel {
  private readonly items = new Map<string, ItemProfile>();
  private readonly random: Random;
  /** A ring of recently interacted items: sampling from it approximates the unigram distribution. */
  private readonly negativePool: string[] = [];
  /** `negativePool`'s items, resolved once: null (or removed) means look the id up again. */
  private readonly negativeProfiles: (ItemProfile | null)[] = [];
  private negativeCursor = 0;
  private readonly gradient: Float32Array;
  /** Items whose target vector changed since the last drift check. */
  private readonly touched = new Set<string>();
  /** Items changed (or removed) since the last changelog checkpoint. */
  private readonly changed = new Set<string>();

  constructor(private readonly config: ModelConfig) {
    this.random = new Random(config.embedding.seed);
    this.gradient = new Float32Array(config.dimension);
  }

  get size(): number {
    return this.items.size;
  }

  get(itemId: string): ItemProfile | undefined {
    return this.items.get(itemId);
  }

  values(): IterableIterator<ItemProfile> {
    return this.items.values();
  }

  /** Returns the item, creating it with a deterministic (id-seeded) random embedding if unknown. */
  ensure(itemId: string): ItemProfile {
    let item = this.items.get(itemId);
    if (item) return item;
    const dimension = this.config.dimension;
    const embedding = new Float32Array(dimension);
    const context = new Float32Array(dimension);
    this.initialEmbeddings(itemId, embedding, context);
    item = {
      itemId,
      title: '',
      categories: [],
      available: true,
      contentVector: null,
      embedding,
      context,
      interactions: 0,
      published: null,
      cachedTarget: null,
      targetCurrent: false,
      inChanged: false,
      inTouched: false,
      removed: false,
      candidateRound: 0,
      candidateSlot: -1,
    };
    this.items.set(itemId, item);
    this.markTouched(item);
    this.markChanged(item);
    return item;
  }

  /** The id-seeded embeddings an unknown item starts with: the same on every replica. */
  private initialEmbeddings(itemId: string, embedding: Float32Array, context: Float32Array | null): void {
    const dimension = this.config.dimension;
    const init = new Random(hashString(itemId, this.config.embedding.seed));
    const scale = 0.5 / Math.sqrt(dimension);
    for (let i = 0; i < dimension; i++) {
      embedding[i] = init.normal() * scale;
      const c = init.normal() * scale;
      if (context) context[i] = c;
    }
  }

  /** Applies a catalog upsert. A content vector seeds the embeddings of items not yet learned from. */
  upsertCatalog(
    itemId: string,
    title: string,
    categories: string[],
    available: boolean,
    contentVector: readonly number[] | null,
  ): ItemProfile {
    const item = this.ensure(itemId);
    item.title = title;
    item.categories = categories;
    item.available = available;
    if (contentVector && contentVector.length === this.config.dimension) {
      const content = normalizeInto(new Float32Array(contentVector), new Float32Array(contentVector));
      item.contentVector = content;
      if (item.interactions === 0) {
        const scale = 0.5;
        for (let i = 0; i < content.length; i++) {
          item.embedding[i] = content[i]! * scale;
          item.context[i] = content[i]! * scale;
        }
      }
    }
    // Catalog facts travel as payload, so any catalog change republishes the point.
    item.published = null;
    item.targetCurrent = false;
    this.markTouched(item);
    this.markChanged(item);
    return item;
  }

  remove(itemId: string): void {
    const item = this.items.get(itemId);
    if (item) {
      item.removed = true;
      item.inTouched = false;
    }
    this.items.delete(itemId);
    this.touched.delete(itemId);
    this.changed.add(itemId);
  }

  private markChanged(item: ItemProfile): void {
    if (item.inChanged) return;
    item.inChanged = true;
    this.changed.add(item.itemId);
  }

  private markTouched(item: ItemProfile): void {
    if (item.inTouched) return;
    item.inTouched = true;
    this.touched.add(item.itemId);
  }

  /** Ids changed or removed since the previous call. */
  takeChanged(): string[] {
    const ids = [...this.changed];
    for (const id of ids) {
      const item = this.items.get(id);
      if (item) item.inChanged = false;
    }
    this.changed.clear();
    return ids;
  }

  /**
   * Learns from one positive interaction with `itemId` given the user's preceding items
   * (oldest first): each preceding item within the window and the new item form a positive pair
   * in both directions, each with `negatives` sampled counter-examples.
   */
  learn(itemId: string, precedingItemIds: readonly string[], strength: number): void {
    const target = this.ensure(itemId);
    target.interactions++;
    target.targetCurrent = false;
    this.markChanged(target);
    const { window, learningRate } = this.config.embedding;
    const rate = learningRate * Math.min(strength, 3);
    const start = Math.max(0, precedingItemIds.length - window);
    for (let p = precedingItemIds.length - 1; p >= start; p--) {
      const previousId = precedingItemIds[p]!;
      if (previousId === itemId) continue;
      const previous = this.items.get(previousId);
      if (!previous) continue;
      const proximity = 1 / (precedingItemIds.length - p);
      this.trainPair(previous, target, rate * proximity);
      this.trainPair(target, previous, rate * proximity);
    }
    this.rememberForNegatives(target);
  }

  /** One skip-gram step: pull center·context(positive) up, push center·context(negatives) down. */
  private trainPair(center: ItemProfile, positive: ItemProfile, rate: number): void {
    const gradient = this.gradient;
    gradient.fill(0);
    this.step(center.embedding, positive, 1, rate, gradient);
    const pool = this.negativePool;
    if (pool.length > 0) {
      for (let n = 0; n < this.config.embedding.negatives; n++) {
        const slot = this.random.int(pool.length);
        const negativeId = pool[slot]!;
        if (negativeId === positive.itemId || negativeId === center.itemId) continue;
        const negative = this.negativeAt(slot, negativeId);
        if (negative) this.step(center.embedding, negative, 0, rate, gradient);
      }
    }
    scaleAndAdd(center.embedding, 1, 1, gradient);
    center.targetCurrent = false;
    this.markTouched(center);
    this.markChanged(center);
  }

  /** The item at `slot` of the negative pool: its resolved profile, or a lookup if it has none. */
  private negativeAt(slot: number, itemId: string): ItemProfile | undefined {
    const cached = this.negativeProfiles[slot];
    if (cached && !cached.removed) return cached;
    const item = this.items.get(itemId);
    this.negativeProfiles[slot] = item ?? null;
    return item;
  }

  private step(
    centerEmbedding: Float32Array,
    contextItem: ItemProfile,
    label: 0 | 1,
    rate: number,
    gradient: Float32Array,
  ): void {
    const context = contextItem.context;
    const g = rate * (label - sigmoid(dot(centerEmbedding, context)));
    for (let i = 0; i < context.length; i++) {
      gradient[i] = gradient[i]! + g * context[i]!;
      context[i] = context[i]! + g * centerEmbedding[i]!;
    }
    // Only the checkpoint needs to know: the context vector is not part of the target vector, so
    // the item cannot have drifted (marking it would drift-check every sampled negative).
    this.markChanged(contextItem);
  }

  private rememberForNegatives(item: ItemProfile): void {
    const capacity = this.config.embedding.negativePool;
    if (this.negativePool.length < capacity) {
      this.negativePool.push(item.itemId);
      this.negativeProfiles.push(item);
    } else {
      this.negativePool[this.negativeCursor] = item.itemId;
      this.negativeProfiles[this.negativeCursor] = item;
      this.negativeCursor = (this.negativeCursor + 1) % capacity;
    }
  }

  /**
   * The item's vector in the retrieval space (normalised), written into `out`: the learned target
   * embedding, shrunk towards the content vector while the item has few interactions.
   */
  /**
   * `targetVector(item)` from a per-item cache, recomputed only after the item changed: the
   * ranking reads hundreds of target vectors per list, of items that mostly did not change since.
   * The result is the cache itself: read it, never write it.
   */
  cachedTargetVector(item: ItemProfile): Float32Array {
    let cached = item.cachedTarget;
    if (cached === null) {
      cached = new Float32Array(this.config.dimension);
      item.cachedTarget = cached;
    } else if (item.targetCurrent) {
      return cached;
    }
    this.targetVector(item, cached);
    item.targetCurrent = true;
    return cached;
  }

  /** Marks the item's target vector as changed (for state written from outside, such as a restore). */
  invalidateTarget(item: ItemProfile): void {
    item.targetCurrent = false;
  }

  targetVector(item: ItemProfile, out: Float32Array): Float32Array {
    normalizeInto(out, item.embedding);
    if (item.contentVector) {
      const prior = this.config.embedding.contentPrior;
      const contentWeight = prior / (prior + item.interactions);
      scaleAndAdd(out, 1 - contentWeight, contentWeight, item.contentVector);
      normalizeInto(out, out);
    }
    return out;
  }

  /** The item as a user-preference direction (normalised input embedding) written into `out`. */
  preferenceVector(item: ItemProfile, out: Float32Array): Float32Array {
    return normalizeInto(out, item.embedding);
  }

  /**
   * `preferenceVector` of an item by id, without creating it: an item the model has not learned
   * yet (its first click is still on its way through the replicated increments) points where its
   * id-seeded embedding will start.
   */
  preferenceVectorOf(itemId: string, out: Float32Array): Float32Array {
    const item = this.items.get(itemId);
    if (item) return normalizeInto(out, item.embedding);
    this.initialEmbeddings(itemId, out, null);
    return normalizeInto(out, out);
  }

  /**
   * The state negative sampling continues from (the reservoir, its cursor, the generator), part of
   * a checkpoint: a replica restored from it draws the same negatives as one that never stopped.
   */
  samplingState(): SamplingState {
    return {
      negativePool: [...this.negativePool],
      negativeCursor: this.negativeCursor,
      random: this.random.state(),
    };
  }

  restoreSamplingState(state: Readonly<SamplingState>): void {
    this.negativePool.length = 0;
    this.negativePool.push(...state.negativePool.slice(0, this.config.embedding.negativePool));
    // Resolved lazily (`negativeAt`): the items may not be restored yet.
    this.negativeProfiles.length = 0;
    for (let i = 0; i < this.negativePool.length; i++) this.negativeProfiles.push(null);
    this.negativeCursor = state.negativeCursor % Math.max(1, this.config.embedding.negativePool);
    this.random.setState(state.random);
  }

  /** Marks every item changed, so the next checkpoint writes all of them (a new checkpoint writer). */
  markAllChanged(): void {
    for (const item of this.items.values()) this.markChanged(item);
  }

  /**
   * Items whose target vector has drifted past the threshold since it was last published
   * (or was never published). Marks them published; the caller writes them to the vector store.
   */
  takeDrifted(): ItemProfile[] {
    const drifted: ItemProfile[] = [];
    const threshold = 1 - this.config.itemDriftThreshold;
    for (const itemId of this.touched) {
      const item = this.items.get(itemId);
      if (!item) continue;
      item.inTouched = false;
      const current = this.cachedTargetVector(item);
      if (item.published === null || dot(current, item.published) < threshold) {
        item.published = Float32Array.from(current);
        drifted.push(item);
      }
    }
    this.touched.clear();
    return drifted;
  }
}
