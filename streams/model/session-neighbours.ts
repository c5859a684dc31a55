/**
 * Session-based k-nearest neighbours (the V-SKNN / STAN / VSTAN family: Ludewig, Latifi, Jannach et
 * al. 2021; Garg et al. 2019), maintained online from a bounded index of recent sessions.
 *
 * A session is a user's most recent engaged items (at most `sessionLength`, distinct, oldest first).
 * Scoring a user's list: the sessions that share an item with theirs (most recent first, at most
 * `sampleSize`) are compared with it — shared items weighted by their position in the user's
 * session (`positionDecay`) and by their rarity (`idfWeight`), the sum divided by √(|s|·|n|) and
 * damped by how long ago the neighbour was active (`recencyHalfLifeMs`) — and the `neighbours`
 * most similar each vote for their items, an item nearer (in the neighbour session) to the item the
 * two sessions share weighing more (`neighbourPositionDecay`), one clicked before it
 * `beforeWeight` as much as one after.
 *
 * Everything is bounded: `capacity` sessions (the least recently created is forgotten, its slot
 * reused), `sessionLength` items each, the `sessionsPerItem` most recent session references per
 * item. Items and sessions live in dense typed arrays, and one scoring reuses scratch buffers, so
 * the hot path allocates nothing once the arrays have grown. Deterministic: every replica that
 * records the same sessions in the same order holds the same index.
 */

import type {
  SessionIndexHeaderRecord,
  SessionItemRingRecord,
  SessionSlotRecord,
} from '../codec/state-records.js';

export interface SessionNeighbourConfig {
  /** Sessions kept; beyond it the least recently created one is forgotten. */
  readonly capacity: number;
  /** Items kept per session (its most recent). */
  readonly sessionLength: number;
  /** Most recent session references kept per item: where neighbours are looked up. */
  readonly sessionsPerItem: number;
  /** Candidate neighbour sessions compared per list, most recently active first. */
  readonly sampleSize: number;
  /** Most similar sessions that vote. */
  readonly neighbours: number;
  /** An item p positions before the user's latest weighs exp(−p / positionDecay) in the similarity. */
  readonly positionDecay: number;
  /** A neighbour last active Δt before now weighs 0.5^(Δt / recencyHalfLifeMs); 0 = no decay. */
  readonly recencyHalfLifeMs: number;
  /** A neighbour's item d positions from the shared item weighs exp(−d / neighbourPositionDecay). */
  readonly neighbourPositionDecay: number;
  /** Weight of a neighbour's items clicked before the shared item, relative to those after. */
  readonly beforeWeight: number;
  /** Exponent of the inverse document frequency log(1 + sessions / sessions with the item); 0 = off. */
  readonly idfWeight: number;
}

export const DEFAULT_SESSION_NEIGHBOUR_CONFIG: SessionNeighbourConfig = {
  capacity: 50_000,
  sessionLength: 20,
  sessionsPerItem: 100,
  sampleSize: 500,
  neighbours: 100,
  positionDecay: 1,
  recencyHalfLifeMs: 7 * 24 * 3_600_000,
  neighbourPositionDecay: 5,
  beforeWeight: 1,
  idfWeight: 1,
};

/** The scores one `score` call produced: `count` items in `items`, their values in `values`. */
export interface SessionNeighbourScores {
  readonly items: readonly string[];
  readonly values: Float64Array;
  readonly count: number;
  /** The best value (0 when nothing scored). */
  readonly max: number;
}

const NO_SLOT = -1;

/** What changed in the index since the previous `takeChanges`: the next checkpoint's records. */
export interface SessionIndexChanges {
  readonly header: SessionIndexHeaderRecord;
  readonly slots: readonly SessionSlotRecord[];
  readonly rings: readonly SessionItemRingRecord[];
  /** Items removed from the catalog: their rings are gone. */
  readonly removed: readonly string[];
}

export class SessionNeighbours {
  private readonly config: SessionNeighbourConfig;
  // Items: dense index ↔ id, the ring of sessions each appeared in, and how many sessions had it.
  private readonly itemIndex = new Map<string, number>();
  private readonly itemIds: string[] = [];
  private readonly itemSlots: number[][] = [];
  private readonly itemGenerations: number[][] = [];
  private readonly itemCursor: number[] = [];
  private readonly itemSessionCount: number[] = [];
  // Sessions: one slot each, `sessionLength` item indices per slot, oldest first.
  private readonly slotOfKey = new Map<string, number>();
  private readonly keyOfSlot: (string | null)[];
  private readonly sessionItems: Int32Array;
  private readonly sessionSize: Int32Array;
  private readonly sessionTime: Float64Array;
  /** Bumped when a slot is reused, so item rings' references to its earlier session go stale. */
  private readonly generation: Uint32Array;
  private nextSlot = 0;
  private usedSlots = 0;
  /** Sessions ever recorded into a fresh slot: the document count of the idf. */
  private sessionsCreated = 0;
  // Scratch, reused by every scoring.
  private round = 0;
  private itemRound = new Uint32Array(1024);
  private itemWeight = new Float64Array(1024);
  /** Position of the item in the scored user's session, newest = 0 (valid for marked items). */
  private itemRank = new Int32Array(1024);
  private itemScore = new Float64Array(1024);
  private readonly slotRound: Uint32Array;
  private readonly candidateSlots: Int32Array;
  private readonly candidateSimilarity: Float64Array;
  private readonly scoredItems: string[] = [];
  private scoredValues = new Float64Array(256);
  private readonly scoredIndices: number[] = [];
  private readonly scratchIndices: number[] = [];
  /** exp(−(d − 1) / neighbourPositionDecay) for every distance d a session can hold: one exp per config. */
  private readonly distanceWeight: Float64Array;
  /** The round `score` marked its scored items with, for `scoreOf`. */
  private scoreRound = 0;
  // Changes since the last checkpoint, flagged so each is listed once.
  private readonly slotChanged: Uint8Array;
  private readonly changedSlots: number[] = [];
  private itemChanged = new Uint8Array(1024);
  private readonly changedItems: number[] = [];
  /** Distinct ids, as the item model's own changed set: bounded by the ids the catalog ever held. */
  private removedItems = new Set<string>();
  /** The one index a restored session's removed items share (they never score); NO_SLOT until needed. */
  private anonymousItem = NO_SLOT;

  constructor(config: Partial<SessionNeighbourConfig> = {}) {
    this.config = { ...DEFAULT_SESSION_NEIGHBOUR_CONFIG, ...config };
    const { capacity, sessionLength, sampleSize } = this.config;
    for (const [name, value] of Object.entries(this.config)) {
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(`sessionNeighbours.${name} must be a finite number >= 0, got ${value}`);
      }
    }
    for (const name of [
      'capacity',
      'sessionLength',
      'sessionsPerItem',
      'sampleSize',
      'neighbours',
    ] as const) {
      if (!Number.isInteger(this.config[name])) {
        throw new RangeError(`sessionNeighbours.${name} must be an integer, got ${this.config[name]}`);
      }
    }
    if (capacity < 1 || sessionLength < 1) {
      throw new RangeError('sessionNeighbours.capacity and sessionLength must be >= 1');
    }
    this.distanceWeight = new Float64Array(sessionLength + 1);
    for (let d = 0; d <= sessionLength; d++) {
      this.distanceWeight[d] = Math.exp(-(d - 1) / Math.max(this.config.neighbourPositionDecay, 1e-9));
    }
    this.keyOfSlot = new Array<string | null>(capacity).fill(null);
    this.sessionItems = new Int32Array(capacity * sessionLength);
    this.sessionSize = new Int32Array(capacity);
    this.sessionTime = new Float64Array(capacity);
    this.generation = new Uint32Array(capacity);
    this.slotRound = new Uint32Array(capacity);
    this.slotChanged = new Uint8Array(capacity);
    this.candidateSlots = new Int32Array(Math.max(1, sampleSize));
    this.candidateSimilarity = new Float64Array(Math.max(1, sampleSize));
  }

  /** Sessions held. */
  get size(): number {
    return this.usedSlots;
  }

  get items(): number {
    return this.itemIds.length;
  }

  /**
   * Records that session `key` clicked `itemId` at `time`, after `preceding` (oldest first): the
   * session now holds the last `sessionLength` distinct items of both. The clicked item (and every
   * item of a session new to the index) joins the item's ring of recent sessions.
   */
  record(key: string, preceding: readonly string[], itemId: string, time: number): void {
    const { sessionLength } = this.config;
    let slot = this.slotOfKey.get(key) ?? NO_SLOT;
    const fresh = slot === NO_SLOT;
    if (fresh) slot = this.allocate(key);
    // Distinct items, the latest occurrence of each, newest first: walk back from the click.
    const round = this.nextRound();
    const ordered = this.scratchIndices;
    ordered.length = 0;
    for (let i = preceding.length; i >= 0 && ordered.length < sessionLength; i--) {
      const index = this.ensureItem(i === preceding.length ? itemId : preceding[i]!);
      if (this.itemRound[index] === round) continue;
      this.itemRound[index] = round;
      ordered.push(index);
    }
    const kept = ordered.length;
    const base = slot * sessionLength;
    for (let i = 0; i < kept; i++) this.sessionItems[base + i] = ordered[kept - 1 - i]!;
    this.sessionSize[slot] = kept;
    if (time > this.sessionTime[slot]!) this.sessionTime[slot] = time;
    this.markSlot(slot);
    if (fresh) {
      for (let i = 0; i < kept; i++) this.remember(ordered[i]!, slot);
    } else this.remember(ordered[0]!, slot);
  }

  /**
   * Forgets a deleted item: its ring of sessions is freed and it no longer scores. Sessions that
   * held it keep its (now anonymous) index, so their other items still vote; an item of the same id
   * added again starts afresh.
   */
  removeItem(itemId: string): void {
    const index = this.itemIndex.get(itemId);
    if (index === undefined) return;
    this.itemIndex.delete(itemId);
    this.itemIds[index] = '';
    this.itemSlots[index] = [];
    this.itemGenerations[index] = [];
    this.itemCursor[index] = 0;
    this.itemSessionCount[index] = 0;
    // The checkpoint forgets its ring and rewrites the sessions that held it (a catalog change is
    // rare, so one pass over the slots is affordable).
    this.removedItems.add(itemId);
    const { sessionLength } = this.config;
    for (let slot = 0; slot < this.config.capacity; slot++) {
      const base = slot * sessionLength;
      const size = this.sessionSize[slot]!;
      for (let i = 0; i < size; i++) {
        if (this.sessionItems[base + i] === index) {
          this.markSlot(slot);
          break;
        }
      }
    }
  }

  /**
   * Everything changed since the previous call, as changelog records (and clears the changes):
   * what a checkpoint writes so that a restore plus a replay from its offset equals never stopping.
   */
  takeChanges(): SessionIndexChanges {
    const { sessionLength } = this.config;
    const slots: SessionSlotRecord[] = [];
    for (const slot of this.changedSlots) {
      this.slotChanged[slot] = 0;
      const key = this.keyOfSlot[slot];
      if (key === null || key === undefined) continue;
      const base = slot * sessionLength;
      const items: string[] = [];
      for (let i = 0; i < this.sessionSize[slot]!; i++)
        items.push(this.itemIds[this.sessionItems[base + i]!]!);
      slots.push({
        slot,
        sessionKey: key,
        generation: this.generation[slot]!,
        time: this.sessionTime[slot]!,
        items,
      });
    }
    this.changedSlots.length = 0;
    const rings: SessionItemRingRecord[] = [];
    for (const index of this.changedItems) {
      this.itemChanged[index] = 0;
      const itemId = this.itemIds[index]!;
      if (itemId === '') continue;
      rings.push({
        itemId,
        slots: [...this.itemSlots[index]!],
        generations: [...this.itemGenerations[index]!],
        cursor: this.itemCursor[index]!,
        sessions: this.itemSessionCount[index]!,
      });
    }
    this.changedItems.length = 0;
    const removed = [...this.removedItems];
    this.removedItems.clear();
    return { header: this.header(), slots, rings, removed };
  }

  /** Marks every session and item changed, so the next `takeChanges` lists all (a new checkpoint writer). */
  markAllChanged(): void {
    for (let slot = 0; slot < this.config.capacity; slot++) {
      if (this.keyOfSlot[slot] !== null) this.markSlot(slot);
    }
    for (let index = 0; index < this.itemIds.length; index++) {
      if (this.itemIds[index] !== '' && this.itemSlots[index]!.length > 0) this.markItem(index);
    }
  }

  /** The index's shape and counters, as the checkpoint header records them. */
  header(): SessionIndexHeaderRecord {
    const { capacity, sessionLength, sessionsPerItem } = this.config;
    return {
      capacity,
      sessionLength,
      sessionsPerItem,
      nextSlot: this.nextSlot,
      usedSlots: this.usedSlots,
      sessionsCreated: this.sessionsCreated,
    };
  }

  /**
   * Restores a checkpoint's header into an empty index; false (and nothing restored) when the
   * checkpoint was written under another shape, whose slots and rings would not fit this one.
   */
  restoreHeader(header: SessionIndexHeaderRecord): boolean {
    const { capacity, sessionLength, sessionsPerItem } = this.config;
    if (
      header.capacity !== capacity ||
      header.sessionLength !== sessionLength ||
      header.sessionsPerItem !== sessionsPerItem
    ) {
      return false;
    }
    this.nextSlot = header.nextSlot;
    this.usedSlots = header.usedSlots;
    this.sessionsCreated = header.sessionsCreated;
    return true;
  }

  /** Restores one session slot from a checkpoint (after `restoreHeader` accepted it). */
  restoreSlot(record: SessionSlotRecord): void {
    const { capacity, sessionLength } = this.config;
    const { slot } = record;
    if (!Number.isInteger(slot) || slot < 0 || slot >= capacity || record.items.length > sessionLength) {
      throw new RangeError(`session slot ${slot} with ${record.items.length} items does not fit the index`);
    }
    const previous = this.keyOfSlot[slot];
    if (previous !== null && previous !== undefined) this.slotOfKey.delete(previous);
    this.keyOfSlot[slot] = record.sessionKey;
    this.slotOfKey.set(record.sessionKey, slot);
    this.generation[slot] = record.generation >>> 0;
    this.sessionTime[slot] = record.time;
    const base = slot * sessionLength;
    for (let i = 0; i < record.items.length; i++) {
      const itemId = record.items[i]!;
      this.sessionItems[base + i] = itemId === '' ? this.anonymous() : this.ensureItem(itemId);
    }
    this.sessionSize[slot] = record.items.length;
  }

  /** Restores one item's ring of sessions from a checkpoint (after `restoreHeader` accepted it). */
  restoreRing(record: SessionItemRingRecord): void {
    const limit = this.config.sessionsPerItem;
    if (record.slots.length > limit || record.generations.length !== record.slots.length) {
      throw new RangeError(`the session ring of item ${record.itemId} does not fit the index`);
    }
    const index = this.ensureItem(record.itemId);
    this.itemSlots[index] = [...record.slots];
    this.itemGenerations[index] = record.generations.map((g) => g >>> 0);
    this.itemCursor[index] = record.cursor;
    this.itemSessionCount[index] = record.sessions;
  }

  /**
   * Scores items for a user whose session is `recent` (oldest first) at `now`, excluding the user's
   * own session `key`. The result is scratch, valid until the next call.
   */
  score(key: string | null, recent: readonly string[], now: number): SessionNeighbourScores {
    const c = this.config;
    const round = this.nextRound();
    const own = key === null ? NO_SLOT : (this.slotOfKey.get(key) ?? NO_SLOT);
    // The user's session: distinct known items, newest first, with their similarity weights.
    const current = this.scratchIndices;
    current.length = 0;
    for (let i = recent.length - 1; i >= 0 && current.length < c.sessionLength; i--) {
      const index = this.itemIndex.get(recent[i]!);
      if (index === undefined || this.itemRound[index] === round) continue;
      this.itemRound[index] = round;
      const position = current.length;
      this.itemRank[index] = position;
      this.itemWeight[index] = Math.exp(-position / Math.max(c.positionDecay, 1e-9)) * this.idf(index);
      current.push(index);
    }
    if (current.length === 0) {
      this.scoreRound = 0;
      return this.result(0, 0);
    }

    // Candidate neighbours: the sessions that share an item, the newest item's sessions first.
    let candidates = 0;
    for (let p = 0; p < current.length && candidates < c.sampleSize; p++) {
      const index = current[p]!;
      const slots = this.itemSlots[index]!;
      const generations = this.itemGenerations[index]!;
      const ring = slots.length;
      for (let r = 0; r < ring && candidates < c.sampleSize; r++) {
        // Newest first: the ring's cursor points at its oldest entry once full.
        const at = (this.itemCursor[index]! - 1 - r + ring) % ring;
        const slot = slots[at]!;
        if (slot === own || this.generation[slot] !== generations[at]) continue;
        if (this.slotRound[slot] === round) continue;
        this.slotRound[slot] = round;
        this.candidateSlots[candidates++] = slot;
      }
    }

    // Similarity: position- and idf-weighted overlap, cosine-normalised, damped by recency.
    const { sessionLength } = c;
    const norm = Math.sqrt(current.length);
    for (let n = 0; n < candidates; n++) {
      const slot = this.candidateSlots[n]!;
      const base = slot * sessionLength;
      const size = this.sessionSize[slot]!;
      let overlap = 0;
      for (let i = 0; i < size; i++) {
        const index = this.sessionItems[base + i]!;
        if (this.itemRound[index] === round) overlap += this.itemWeight[index]!;
      }
      let similarity = overlap / (norm * Math.sqrt(size));
      if (c.recencyHalfLifeMs > 0) {
        similarity *= 0.5 ** (Math.max(0, now - this.sessionTime[slot]!) / c.recencyHalfLifeMs);
      }
      this.candidateSimilarity[n] = similarity;
    }
    const voters = this.selectNeighbours(candidates, c.neighbours);

    // Votes: each neighbour's items, nearer the item it shares with the user weighing more.
    const scored = this.scoredIndices;
    scored.length = 0;
    const scoreRound = this.nextRound();
    this.scoreRound = scoreRound;
    const distanceWeight = this.distanceWeight;
    for (let v = 0; v < voters; v++) {
      const slot = this.candidateSlots[v]!;
      const similarity = this.candidateSimilarity[v]!;
      if (similarity <= 0) continue;
      const base = slot * sessionLength;
      const size = this.sessionSize[slot]!;
      // The shared item: the user's most recent item the neighbour holds (the smallest weight rank).
      let shared = -1;
      let sharedRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i < size; i++) {
        const index = this.sessionItems[base + i]!;
        if (this.itemRound[index] !== round) continue;
        const rank = this.itemRank[index]!;
        if (rank < sharedRank) {
          sharedRank = rank;
          shared = i;
        }
      }
      if (shared < 0) continue;
      for (let i = 0; i < size; i++) {
        const index = this.sessionItems[base + i]!;
        if (this.itemRound[index] === round || this.itemIds[index] === '') continue;
        let vote = similarity * distanceWeight[i < shared ? shared - i : i - shared]!;
        if (i < shared) vote *= c.beforeWeight;
        if (vote <= 0) continue;
        if (this.itemRound[index] !== scoreRound) {
          this.itemRound[index] = scoreRound;
          this.itemScore[index] = 0;
          scored.push(index);
        }
        this.itemScore[index] = this.itemScore[index]! + vote;
      }
    }
    // The user's own items were marked with `round`, so they never reach `scored`.
    if (this.scoredValues.length < scored.length) this.scoredValues = new Float64Array(scored.length * 2);
    let max = 0;
    for (let s = 0; s < scored.length; s++) {
      const index = scored[s]!;
      const value = this.itemScore[index]!;
      this.scoredItems[s] = this.itemIds[index]!;
      this.scoredValues[s] = value;
      if (value > max) max = value;
    }
    return this.result(scored.length, max);
  }

  private result(count: number, max: number): SessionNeighbourScores {
    return { items: this.scoredItems, values: this.scoredValues, count, max };
  }

  /**
   * The score `itemId` got from the latest `score` call (0 if it got none), in O(1): what a caller
   * holding a candidate from another source reads.
   */
  scoreOf(itemId: string): number {
    const index = this.itemIndex.get(itemId);
    if (index === undefined || this.scoreRound === 0 || this.itemRound[index] !== this.scoreRound) return 0;
    return this.itemScore[index]!;
  }

  /**
   * Moves the `k` most similar of the first `n` candidates to the front (unordered); returns how
   * many. Quickselect (Hoare partition, middle pivot): O(n) on average where a selection sort was
   * O(k·n), and deterministic, so every replica picks the same voters.
   */
  private selectNeighbours(n: number, k: number): number {
    if (n <= k) return n;
    const slots = this.candidateSlots;
    const similarity = this.candidateSimilarity;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const pivot = similarity[(low + high) >>> 1]!;
      let i = low;
      let j = high;
      while (i <= j) {
        while (similarity[i]! > pivot) i++;
        while (similarity[j]! < pivot) j--;
        if (i <= j) {
          const slot = slots[i]!;
          slots[i] = slots[j]!;
          slots[j] = slot;
          const value = similarity[i]!;
          similarity[i] = similarity[j]!;
          similarity[j] = value;
          i++;
          j--;
        }
      }
      // [low, j] ≥ pivot ≥ [i, high]: continue in the part holding position k − 1.
      if (k - 1 <= j) high = j;
      else if (k - 1 >= i) low = i;
      else break;
    }
    return k;
  }

  private idf(index: number): number {
    const w = this.config.idfWeight;
    if (w === 0) return 1;
    const value = Math.log(1 + this.sessionsCreated / Math.max(1, this.itemSessionCount[index]!));
    return w === 1 ? value : value ** w;
  }

  private allocate(key: string): number {
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % this.config.capacity;
    const previous = this.keyOfSlot[slot];
    if (previous !== null && previous !== undefined) this.slotOfKey.delete(previous);
    else this.usedSlots++;
    this.keyOfSlot[slot] = key;
    this.slotOfKey.set(key, slot);
    this.generation[slot] = (this.generation[slot]! + 1) >>> 0;
    this.sessionSize[slot] = 0;
    this.sessionTime[slot] = Number.NEGATIVE_INFINITY;
    this.sessionsCreated++;
    return slot;
  }

  private remember(index: number, slot: number): void {
    const slots = this.itemSlots[index]!;
    const generations = this.itemGenerations[index]!;
    const limit = this.config.sessionsPerItem;
    if (limit === 0) return;
    this.itemSessionCount[index] = this.itemSessionCount[index]! + 1;
    this.markItem(index);
    if (slots.length < limit) {
      slots.push(slot);
      generations.push(this.generation[slot]!);
      this.itemCursor[index] = slots.length % limit;
      return;
    }
    const at = this.itemCursor[index]!;
    slots[at] = slot;
    generations[at] = this.generation[slot]!;
    this.itemCursor[index] = (at + 1) % limit;
  }

  private markSlot(slot: number): void {
    if (this.slotChanged[slot] !== 0) return;
    this.slotChanged[slot] = 1;
    this.changedSlots.push(slot);
  }

  private markItem(index: number): void {
    if (this.itemChanged[index] !== 0) return;
    this.itemChanged[index] = 1;
    this.changedItems.push(index);
  }

  private anonymous(): number {
    if (this.anonymousItem === NO_SLOT) this.anonymousItem = this.addItem('');
    return this.anonymousItem;
  }

  private ensureItem(itemId: string): number {
    const known = this.itemIndex.get(itemId);
    if (known !== undefined) return known;
    const index = this.addItem(itemId);
    this.itemIndex.set(itemId, index);
    return index;
  }

  private addItem(itemId: string): number {
    const index = this.itemIds.length;
    this.itemIds.push(itemId);
    this.itemSlots.push([]);
    this.itemGenerations.push([]);
    this.itemCursor.push(0);
    this.itemSessionCount.push(0);
    if (index >= this.itemRound.length) {
      const size = this.itemRound.length * 2;
      this.itemRound = grow(this.itemRound, new Uint32Array(size));
      this.itemWeight = grow(this.itemWeight, new Float64Array(size));
      this.itemRank = grow(this.itemRank, new Int32Array(size));
      this.itemScore = grow(this.itemScore, new Float64Array(size));
      this.itemChanged = grow(this.itemChanged, new Uint8Array(size));
    }
    return index;
  }

  private nextRound(): number {
    this.round = (this.round + 1) >>> 0;
    if (this.round === 0) {
      // Wrapped after 2^32 rounds: clear the marks so none is mistaken for the current round.
      this.itemRound.fill(0);
      this.slotRound.fill(0);
      this.round = 1;
    }
    return this.round;
  }
}

function grow<T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
