import type { ClickEvent, EventType, ItemEvent } from '../model/events.js';
import { hashString, Random } from '../util/random.js';
import type { StreamEvent } from './stream-event.js';

export interface SyntheticOptions {
  seed: number;
  users: number;
  items: number;
  categories: number;
  /** Number of click events; `Infinity` makes the stream endless. Catalog events are not counted. */
  events: number;
  /** ms epoch of the first event (the initial catalog carries this `updatedAt`). */
  startTime: number;
  /**
   * When a number, every ItemEvent carries a content vector of this dimension: a noisy random
   * projection of the item's hidden latent vector, i.e. a cold-start signal that is informative
   * but not exact. Null leaves `contentVector` null.
   */
  contentVectorDimension: number | null;
}

export const DEFAULT_SYNTHETIC_OPTIONS: SyntheticOptions = Object.freeze({
  seed: 42,
  users: 2000,
  items: 3000,
  categories: 20,
  events: 300_000,
  startTime: Date.UTC(2026, 0, 1),
  contentVectorDimension: null,
});

const LATENT_DIMENSION = 16;
const SUCCESSORS_PER_ITEM = 3;
const SHORTLIST_SIZE = 50;
/**
 * What a user has consumed lately is kept in two Bloom-filter generations of this many items
 * each, so they remember their last 256–512 items in 1 KiB: a ring of ids that long would make
 * the per-candidate check a scan. A false positive (~3%) merely hides an item from that user for
 * a while.
 */
const SEEN_PER_GENERATION = 256;
const SEEN_BITS = 4096;
const SEEN_WORDS = SEEN_BITS / 32;
const SUCCESSOR_PROBABILITY = 0.3;
/** Off-taste browsing of popular items: the main source of dislikes and skips. */
const EXPLORE_PROBABILITY = 0.05;
/**
 * Taste sharpness. At 12 an in-taste item (affinity ~0.75) matches an unrelated one ~8000 times as
 * popular, so popularity decides mostly among items the user could like, not across genres.
 */
const TASTE_BETA = 12;
const NEGATIVE_AFFINITY = 0.15;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const CHURN_INTERVAL_MS = 6 * HOUR_MS;
const CHURN_FRACTION = 0.001;
/** Mean time for one taste category to be replaced: slow enough to learn, fast enough to matter. */
const CATEGORY_SWAP_TAU_MS = 30 * DAY_MS;
/** The latent taste wanders around its categories' mixture (an Ornstein-Uhlenbeck process). */
const TASTE_REVERSION_TAU_MS = 3 * DAY_MS;
const TASTE_WANDER_PER_DIMENSION = 0.09;
const MEAN_SESSION_GAP_MS = 2 * DAY_MS;
const MIN_SESSION_GAP_MS = 20 * 60_000;

const CATEGORY_NAMES = [
  'jazz',
  'thriller',
  'comedy',
  'documentary',
  'sci-fi',
  'romance',
  'horror',
  'cooking',
  'travel',
  'history',
  'fantasy',
  'classical',
  'hip-hop',
  'sports',
  'nature',
  'mystery',
  'animation',
  'western',
  'rock',
  'true-crime',
  'poetry',
  'gardening',
  'finance',
  'design',
  'folk',
  'drama',
  'electronic',
  'wellness',
  'science',
  'anime',
] as const;

const ADJECTIVES = [
  'Silent',
  'Golden',
  'Hidden',
  'Broken',
  'Crimson',
  'Last',
  'Midnight',
  'Wild',
  'Distant',
  'Electric',
  'Quiet',
  'Burning',
  'Frozen',
  'Secret',
  'Lost',
  'Velvet',
  'Iron',
  'Paper',
  'Silver',
  'Hollow',
  'Bright',
  'Restless',
  'Forgotten',
  'Northern',
  'Endless',
  'Little',
  'Scarlet',
  'Gentle',
  'Savage',
  'Lonely',
] as const;

const NOUNS = [
  'Harbor',
  'Garden',
  'River',
  'Empire',
  'Letter',
  'Machine',
  'Horizon',
  'Echo',
  'Mirror',
  'Forest',
  'Station',
  'Kingdom',
  'Island',
  'Lantern',
  'Orchard',
  'Signal',
  'Voyage',
  'Winter',
  'Carnival',
  'Tide',
  'Compass',
  'Fortress',
  'Meadow',
  'Canyon',
  'Whisper',
  'Parade',
  'Archive',
  'Orbit',
  'Lighthouse',
  'Bridge',
] as const;

const TAGS = [
  'classic',
  'award-winning',
  'indie',
  'live',
  'remastered',
  'short',
  'long',
  'family',
  'dark',
  'uplifting',
  'cult',
  'acoustic',
  'binge-worthy',
  'hidden-gem',
] as const;

const DEVICES = ['mobile', 'web', 'tv'] as const;

/**
 * Eddy's seeded synthetic interaction stream: the initial catalog (one `upsert` per item, all
 * stamped `startTime`), then `events` clicks in non-decreasing event time, interleaved every six
 * simulated hours with catalog churn: ~0.1% of items retired (`available: false`) and as many new
 * items (tagged `new-release`, given a head start in popularity) added. With the defaults, 300k
 * clicks span about 16 days.
 *
 * The hidden world, built once from `new Random(seed)`:
 * - categories with latent centres; items with a primary (sometimes a secondary) category, a
 *   latent near that centre, a Zipf(1.0) base popularity and three successors (mostly same category);
 * - users with a taste mixing 1–3 categories, a heavy-tailed activity level, and a taste that
 *   drifts with event time: the latent wanders, and now and then a category is swapped out.
 *
 * Sessions of all users are interleaved through a heap of next-event times. Within a session the
 * next item is, with probability 0.3, a successor of the previous one; otherwise it is drawn from a
 * 50-item shortlist (half by popularity, half from the user's categories) with
 * softmax(β·taste·latent + log popularity), skipping what the user consumed lately. Items far from
 * the taste often yield `skip` or `dislike` (~5% of events).
 *
 * State is O(users + items): the catalog keeps a fixed number of slots and a new item takes over the
 * slot of the item it replaces, so an endless stream (`events: Infinity`) runs in constant memory.
 * The same options always yield the same stream; content vectors draw from their own generator,
 * so switching `contentVectorDimension` on leaves the clicks unchanged. Invalid options throw a
 * RangeError when this function is called, not on the first `next()`.
 */
export function syntheticStream(options: Partial<SyntheticOptions> = {}): Generator<StreamEvent> {
  // Not a generator function itself, so bad options throw here rather than at the first `next()`.
  const resolved = resolveOptions(options);
  return (function* (): Generator<StreamEvent> {
    const world = new SyntheticWorld(resolved);
    yield* world.initialCatalog();
    yield* world.interactions();
  })();
}

function resolveOptions(partial: Partial<SyntheticOptions>): SyntheticOptions {
  const o: SyntheticOptions = { ...DEFAULT_SYNTHETIC_OPTIONS };
  // Spread would let an explicit `undefined` wipe out a default.
  if (partial.seed !== undefined) o.seed = partial.seed;
  if (partial.users !== undefined) o.users = partial.users;
  if (partial.items !== undefined) o.items = partial.items;
  if (partial.categories !== undefined) o.categories = partial.categories;
  if (partial.events !== undefined) o.events = partial.events;
  if (partial.startTime !== undefined) o.startTime = partial.startTime;
  if (partial.contentVectorDimension !== undefined) o.contentVectorDimension = partial.contentVectorDimension;

  const requireInteger = (name: string, value: number, min: number): void => {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`syntheticStream: ${name} must be an integer >= ${min}, got ${value}`);
    }
  };
  if (!Number.isFinite(o.seed)) throw new RangeError(`syntheticStream: seed must be finite, got ${o.seed}`);
  requireInteger('users', o.users, 1);
  requireInteger('items', o.items, 1);
  requireInteger('categories', o.categories, 1);
  if (o.events !== Number.POSITIVE_INFINITY) requireInteger('events', o.events, 0);
  requireInteger('startTime', o.startTime, 0);
  if (o.contentVectorDimension !== null)
    requireInteger('contentVectorDimension', o.contentVectorDimension, 1);
  return o;
}

function categoryName(index: number): string {
  const base = CATEGORY_NAMES[index % CATEGORY_NAMES.length]!;
  const round = Math.floor(index / CATEGORY_NAMES.length);
  return round === 0 ? base : `${base}-${round + 1}`;
}

/** Two 12-bit Bloom indices from one multiplicative hash; salted by user so blind spots differ per user. */
function seenHash(u: number, item: number): number {
  return Math.imul(item ^ Math.imul(u + 1, 0x27d4eb2d), 0x9e3779b1) >>> 0;
}

function normalize(v: Float64Array, offset: number, length: number): void {
  let norm = 0;
  for (let d = 0; d < length; d++) norm += v[offset + d]! ** 2;
  norm = Math.sqrt(norm);
  if (norm === 0) return;
  for (let d = 0; d < length; d++) v[offset + d]! /= norm;
}

/**
 * Weighted sampling in O(1) per draw (Walker/Vose alias method). Weights change only when the
 * catalog churns, a few times per simulated day, so rebuilding in O(n) then is cheaper overall
 * than a tree with O(log n) draws.
 */
class AliasSampler {
  readonly weights: Float64Array;
  private readonly probability: Float64Array;
  private readonly alias: Int32Array;
  private readonly small: Int32Array;
  private readonly large: Int32Array;
  private readonly scaled: Float64Array;

  constructor(readonly size: number) {
    this.weights = new Float64Array(size);
    this.probability = new Float64Array(size);
    this.alias = new Int32Array(size);
    this.small = new Int32Array(size);
    this.large = new Int32Array(size);
    this.scaled = new Float64Array(size);
  }

  rebuild(): void {
    const n = this.size;
    let total = 0;
    for (let i = 0; i < n; i++) total += this.weights[i]!;
    let smallCount = 0;
    let largeCount = 0;
    for (let i = 0; i < n; i++) {
      const p = (this.weights[i]! * n) / total;
      this.scaled[i] = p;
      if (p < 1) this.small[smallCount++] = i;
      else this.large[largeCount++] = i;
    }
    while (smallCount > 0 && largeCount > 0) {
      const s = this.small[--smallCount]!;
      const l = this.large[largeCount - 1]!;
      this.probability[s] = this.scaled[s]!;
      this.alias[s] = l;
      const rest = this.scaled[l]! + this.scaled[s]! - 1;
      this.scaled[l] = rest;
      if (rest < 1) {
        largeCount--;
        this.small[smallCount++] = l;
      }
    }
    // Whatever is left is 1 up to rounding.
    while (largeCount > 0) this.probability[this.large[--largeCount]!] = 1;
    while (smallCount > 0) this.probability[this.small[--smallCount]!] = 1;
  }

  /** Draws with one uniform in [0, 1): its integer part picks a column, the fraction the side. */
  sample(uniform: number): number {
    const x = uniform * this.size;
    const column = Math.floor(x);
    return x - column < this.probability[column]! ? column : this.alias[column]!;
  }
}

/** A binary min-heap of (time, id) with ties broken by id, so the interleaving is deterministic. */
class TimeHeap {
  private readonly times: Float64Array;
  private readonly ids: Int32Array;
  private size = 0;

  constructor(capacity: number) {
    this.times = new Float64Array(capacity);
    this.ids = new Int32Array(capacity);
  }

  get topTime(): number {
    return this.times[0]!;
  }

  get topId(): number {
    return this.ids[0]!;
  }

  push(time: number, id: number): void {
    let i = this.size++;
    this.times[i] = time;
    this.ids[i] = id;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Reschedules the top entry: every entity stays in the heap for the whole stream. */
  replaceTopTime(time: number): void {
    this.times[0] = time;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child = right < this.size && this.less(right, left) ? right : left;
      if (!this.less(child, i)) break;
      this.swap(i, child);
      i = child;
    }
  }

  private less(i: number, j: number): boolean {
    const ti = this.times[i]!;
    const tj = this.times[j]!;
    return ti < tj || (ti === tj && this.ids[i]! < this.ids[j]!);
  }

  private swap(i: number, j: number): void {
    const t = this.times[i]!;
    this.times[i] = this.times[j]!;
    this.times[j] = t;
    const id = this.ids[i]!;
    this.ids[i] = this.ids[j]!;
    this.ids[j] = id;
  }
}

class SyntheticWorld {
  private readonly rng: Random;
  private readonly contentSeed: number;
  private readonly contentProjection: Float64Array | null;
  private readonly categoryCount: number;
  private readonly categoryNames: string[];
  private readonly categoryCumulative: Float64Array;
  private readonly centres: Float64Array;

  // Catalog, one entry per slot; a slot's occupant changes when the catalog churns.
  private readonly slotCount: number;
  private readonly slotItem: Int32Array;
  private readonly slotItemId: string[];
  private readonly slotPrimary: Int32Array;
  private readonly slotSecondary: Int32Array;
  private readonly slotTitle: string[];
  private readonly slotTags: string[][];
  private readonly slotLatent: Float64Array;
  private readonly slotRank: Int32Array;
  private readonly rankSlot: Int32Array;
  private readonly slotLogPopularity: Float64Array;
  private readonly slotSuccessors: Int32Array;
  private readonly slotsByCategory: Int32Array[];
  private readonly popularity: AliasSampler;
  private nextItemNumber: number;

  // Users.
  private readonly userCount: number;
  private readonly userIds: string[];
  private readonly userCategoryCount: Uint8Array;
  private readonly userCategories: Int32Array;
  private readonly userCategoryWeights: Float64Array;
  private readonly userLatent: Float64Array;
  private readonly userTaste: Float64Array;
  private readonly userActivity: Float64Array;
  private readonly userLastSessionAt: Float64Array;
  private readonly userRemaining: Int32Array;
  private readonly userPreviousSlot: Int32Array;
  private readonly userPreviousItem: Int32Array;
  private readonly userSessionId: string[];
  private readonly userPreferredDevice: Uint8Array;
  private readonly userSessionDevice: Uint8Array;
  private readonly userSeen: Int32Array;
  private readonly userSeenCount: Uint16Array;
  private readonly userSeenGeneration: Uint8Array;
  private sessionCounter = 0;

  // Scratch buffers reused by every draw so generation allocates only the emitted events.
  private readonly target = new Float64Array(LATENT_DIMENSION);
  private readonly shortlistSlots = new Int32Array(SHORTLIST_SIZE);
  private readonly shortlistWeights = new Float64Array(SHORTLIST_SIZE);

  constructor(private readonly options: SyntheticOptions) {
    const D = LATENT_DIMENSION;
    this.rng = new Random(options.seed);
    this.contentSeed = hashString('synthetic-content-vectors', options.seed >>> 0);
    const rng = this.rng;

    const C = options.categories;
    this.categoryCount = C;
    this.categoryNames = Array.from({ length: C }, (_, c) => categoryName(c));
    // Genres differ in size; Zipf(0.5) over a shuffled order so no name is always the biggest.
    const categoryOrder = this.shuffledRange(C);
    this.categoryCumulative = new Float64Array(C);
    let acc = 0;
    for (let c = 0; c < C; c++) {
      acc += 1 / Math.sqrt(categoryOrder[c]! + 1);
      this.categoryCumulative[c] = acc;
    }
    this.centres = new Float64Array(C * D);
    for (let c = 0; c < C; c++) {
      for (let d = 0; d < D; d++) this.centres[c * D + d] = rng.normal();
      normalize(this.centres, c * D, D);
    }

    const S = options.items;
    this.slotCount = S;
    this.slotItem = new Int32Array(S);
    this.slotItemId = new Array<string>(S);
    this.slotPrimary = new Int32Array(S);
    this.slotSecondary = new Int32Array(S);
    this.slotTitle = new Array<string>(S);
    this.slotTags = new Array<string[]>(S);
    this.slotLatent = new Float64Array(S * D);
    this.slotLogPopularity = new Float64Array(S);
    this.slotSuccessors = new Int32Array(S * SUCCESSORS_PER_ITEM);
    this.popularity = new AliasSampler(S);
    this.slotRank = this.shuffledRange(S);
    this.rankSlot = new Int32Array(S);
    const categoryMembers: number[][] = Array.from({ length: C }, () => []);
    for (let s = 0; s < S; s++) {
      // The first C items seed every category so none is empty when items >= categories.
      const primary = s < C ? s : this.sampleCategory();
      this.slotPrimary[s] = primary;
      categoryMembers[primary]!.push(s);
      this.fillItem(s, s, primary, []);
      this.setRank(s, this.slotRank[s]!);
    }
    this.nextItemNumber = S;
    this.popularity.rebuild();
    this.slotsByCategory = categoryMembers.map((members) => Int32Array.from(members));
    for (let s = 0; s < S; s++) this.drawSuccessors(s);

    const U = options.users;
    this.userCount = U;
    this.userIds = Array.from({ length: U }, (_, u) => `u${u}`);
    this.userCategoryCount = new Uint8Array(U);
    this.userCategories = new Int32Array(U * 3);
    this.userCategoryWeights = new Float64Array(U * 3);
    this.userLatent = new Float64Array(U * D);
    this.userTaste = new Float64Array(U * D);
    this.userActivity = new Float64Array(U);
    this.userLastSessionAt = new Float64Array(U).fill(options.startTime);
    this.userRemaining = new Int32Array(U);
    this.userPreviousSlot = new Int32Array(U).fill(-1);
    this.userPreviousItem = new Int32Array(U).fill(-1);
    this.userSessionId = new Array<string>(U).fill('');
    this.userPreferredDevice = new Uint8Array(U);
    this.userSessionDevice = new Uint8Array(U);
    this.userSeen = new Int32Array(U * 2 * SEEN_WORDS);
    this.userSeenCount = new Uint16Array(U);
    this.userSeenGeneration = new Uint8Array(U);
    for (let u = 0; u < U; u++) {
      const r = rng.next();
      const k = Math.min(C, r < 0.35 ? 1 : r < 0.75 ? 2 : 3);
      this.userCategoryCount[u] = k;
      let weightSum = 0;
      for (let j = 0; j < k; j++) {
        let c = this.sampleCategory();
        for (let attempt = 0; attempt < 20 && this.userHasCategory(u, j, c); attempt++)
          c = this.sampleCategory();
        this.userCategories[u * 3 + j] = c;
        // The first category dominates: people have one main interest and some side ones.
        const w = j === 0 ? 1 : 0.2 + 0.6 * rng.next();
        this.userCategoryWeights[u * 3 + j] = w;
        weightSum += w;
      }
      for (let j = 0; j < k; j++) this.userCategoryWeights[u * 3 + j]! /= weightSum;
      // Start from the stationary spread around the target so early and late users look alike.
      this.computeTarget(u);
      for (let d = 0; d < D; d++) {
        this.userLatent[u * D + d] = this.target[d]! + TASTE_WANDER_PER_DIMENSION * rng.normal();
      }
      this.refreshTaste(u);
      // Pareto(1.2) capped at 12: most users are light, a few are heavy; a higher cap lets the
      // heaviest users exhaust their genres within the default 300k events.
      this.userActivity[u] = Math.min(12, (1 - rng.next()) ** (-1 / 1.2));
      const d = rng.next();
      this.userPreferredDevice[u] = d < 0.6 ? 0 : d < 0.9 ? 1 : 2;
    }

    const k = options.contentVectorDimension;
    if (k === null) {
      this.contentProjection = null;
    } else {
      const projectionRng = new Random(this.contentSeed);
      this.contentProjection = new Float64Array(k * D);
      const scale = 1 / Math.sqrt(k);
      for (let i = 0; i < k * D; i++) this.contentProjection[i] = scale * projectionRng.normal();
    }
  }

  *initialCatalog(): Generator<StreamEvent> {
    for (let s = 0; s < this.slotCount; s++) {
      yield { kind: 'item', event: this.itemEvent(s, true, this.options.startTime) };
    }
  }

  *interactions(): Generator<StreamEvent> {
    const { events, startTime } = this.options;
    if (events === 0) return;
    const heap = new TimeHeap(this.userCount + 1);
    for (let u = 0; u < this.userCount; u++) heap.push(startTime + this.sessionGap(u), u);
    const churnId = this.userCount;
    heap.push(startTime + CHURN_INTERVAL_MS, churnId);

    let emitted = 0;
    while (emitted < events) {
      const now = heap.topTime;
      const id = heap.topId;
      if (id === churnId) {
        yield* this.churn(now);
        heap.replaceTopTime(now + CHURN_INTERVAL_MS);
        continue;
      }
      emitted++;
      yield { kind: 'click', event: this.click(id, now, emitted) };
      heap.replaceTopTime(
        now + (this.userRemaining[id]! > 0 ? this.withinSessionGap() : this.sessionGap(id)),
      );
    }
  }

  private click(u: number, now: number, n: number): ClickEvent {
    const rng = this.rng;
    if (this.userRemaining[u] === 0) this.startSession(u, now);
    const slot = this.chooseSlot(u);
    const item = this.slotItem[slot]!;
    this.remember(u, item);
    this.userPreviousSlot[u] = slot;
    this.userPreviousItem[u] = item;
    this.userRemaining[u]!--;

    const affinity = this.affinity(u, slot);
    let type: EventType;
    if (affinity < NEGATIVE_AFFINITY && rng.next() < 0.4) {
      type = rng.next() < 0.6 ? 'skip' : 'dislike';
    } else {
      // Close matches convert more often: the strength of the event type carries signal too.
      const strong = affinity > 0.6;
      const r = rng.next();
      if (r < (strong ? 0.45 : 0.58)) type = 'view';
      else if (r < (strong ? 0.68 : 0.82)) type = 'click';
      else if (r < (strong ? 0.8 : 0.9)) type = 'like';
      else if (r < (strong ? 0.92 : 0.97)) type = 'add_to_cart';
      else type = 'purchase';
    }
    return {
      eventId: `e${n}`,
      userId: this.userIds[u]!,
      itemId: this.slotItemId[slot]!,
      type,
      eventTime: now,
      sessionId: this.userSessionId[u]!,
      context: { device: DEVICES[this.userSessionDevice[u]!]! },
    };
  }

  private startSession(u: number, now: number): void {
    const rng = this.rng;
    this.drift(u, now);
    this.userLastSessionAt[u] = now;
    this.userRemaining[u] = Math.min(25, 2 + Math.floor(-Math.log(1 - rng.next()) * 5));
    this.userPreviousSlot[u] = -1;
    this.userPreviousItem[u] = -1;
    this.userSessionId[u] = `s${++this.sessionCounter}`;
    this.userSessionDevice[u] = rng.next() < 0.8 ? this.userPreferredDevice[u]! : rng.int(DEVICES.length);
  }

  /** Taste drift scaled by the time since the user's last session, so it follows event time. */
  private drift(u: number, now: number): void {
    const rng = this.rng;
    const D = LATENT_DIMENSION;
    const elapsed = now - this.userLastSessionAt[u]!;
    const k = this.userCategoryCount[u]!;
    if (rng.next() < 1 - Math.exp(-elapsed / CATEGORY_SWAP_TAU_MS) && this.categoryCount > k) {
      const j = rng.int(k);
      let c = this.sampleCategory();
      for (let attempt = 0; attempt < 20 && this.userHasCategory(u, k, c); attempt++)
        c = this.sampleCategory();
      if (!this.userHasCategory(u, k, c)) this.userCategories[u * 3 + j] = c;
    }
    this.computeTarget(u);
    const decay = Math.exp(-elapsed / TASTE_REVERSION_TAU_MS);
    const noise = TASTE_WANDER_PER_DIMENSION * Math.sqrt(1 - decay * decay);
    for (let d = 0; d < D; d++) {
      const t = this.target[d]!;
      this.userLatent[u * D + d] = t + (this.userLatent[u * D + d]! - t) * decay + noise * rng.normal();
    }
    this.refreshTaste(u);
  }

  private chooseSlot(u: number): number {
    const rng = this.rng;
    const previous = this.userPreviousSlot[u]!;
    if (
      previous >= 0 &&
      this.slotItem[previous] === this.userPreviousItem[u] &&
      rng.next() < SUCCESSOR_PROBABILITY
    ) {
      const r = rng.next();
      const successor =
        this.slotSuccessors[previous * SUCCESSORS_PER_ITEM + (r < 0.5 ? 0 : r < 0.8 ? 1 : 2)]!;
      if (!this.seen(u, this.slotItem[successor]!)) return successor;
    }
    if (rng.next() < EXPLORE_PROBABILITY) {
      const slot = this.popularity.sample(rng.next());
      if (!this.seen(u, this.slotItem[slot]!)) return slot;
    }

    const slots = this.shortlistSlots;
    const weights = this.shortlistWeights;
    const k = this.userCategoryCount[u]!;
    let maxScore = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < SHORTLIST_SIZE; i++) {
      // One draw decides the source and, rescaled, drives that source's pick: half the RNG calls.
      const r = rng.next();
      let slot: number;
      if (r < 0.5) {
        slot = this.popularity.sample(r * 2);
      } else {
        const rc = (r - 0.5) * 2;
        let j = 0;
        let low = 0;
        let weight = this.userCategoryWeights[u * 3]!;
        while (j < k - 1 && rc >= low + weight) {
          low += weight;
          weight = this.userCategoryWeights[u * 3 + ++j]!;
        }
        const members = this.slotsByCategory[this.userCategories[u * 3 + j]!]!;
        const position = Math.min(members.length - 1, Math.floor(((rc - low) / weight) * members.length));
        slot = members.length > 0 ? members[position]! : this.popularity.sample(rng.next());
      }
      slots[i] = slot;
      // Seen items leave the shortlist before the softmax, so a user who has exhausted a favourite
      // genre moves on to the next best thing rather than repeating it.
      const score = this.seen(u, this.slotItem[slot]!)
        ? Number.NEGATIVE_INFINITY
        : TASTE_BETA * this.affinity(u, slot) + this.slotLogPopularity[slot]!;
      weights[i] = score;
      if (score > maxScore) maxScore = score;
    }
    if (maxScore === Number.NEGATIVE_INFINITY) {
      for (let attempt = 0; attempt < 8; attempt++) {
        const slot = this.popularity.sample(rng.next());
        if (!this.seen(u, this.slotItem[slot]!)) return slot;
      }
      return this.popularity.sample(rng.next());
    }
    let total = 0;
    for (let i = 0; i < SHORTLIST_SIZE; i++) {
      const w = Math.exp(weights[i]! - maxScore);
      weights[i] = w;
      total += w;
    }
    let r = rng.next() * total;
    let i = 0;
    // Stops early at the last candidate that has weight, in case rounding leaves r > 0 at the end.
    while (i < SHORTLIST_SIZE - 1 && (r >= weights[i]! || weights[i] === 0)) r -= weights[i++]!;
    while (weights[i] === 0) i--;
    return slots[i]!;
  }

  private *churn(now: number): Generator<StreamEvent> {
    const count = Math.max(1, Math.round(this.slotCount * CHURN_FRACTION));
    const firstNewItem = this.nextItemNumber;
    for (let i = 0; i < count; i++) {
      let slot = this.rng.int(this.slotCount);
      // Retiring an item added a moment ago would leave a cold-start item that never gets a click.
      for (let attempt = 0; attempt < 8 && this.slotItem[slot]! >= firstNewItem; attempt++) {
        slot = this.rng.int(this.slotCount);
      }
      yield { kind: 'item', event: this.itemEvent(slot, false, now) };
      this.fillItem(slot, this.nextItemNumber++, this.slotPrimary[slot]!, ['new-release']);
      // New releases get a head start (a rank skewed to the top) so cold-start items do get
      // traffic. The item that held that rank takes the retired item's, which keeps the ranks a
      // permutation: popularity stays Zipf however long the stream runs, and old hits slowly fade.
      const oldRank = this.slotRank[slot]!;
      const newRank = Math.floor(this.slotCount * this.rng.next() ** 2);
      const displaced = this.rankSlot[newRank]!;
      if (displaced !== slot) this.setRank(displaced, oldRank);
      this.setRank(slot, newRank);
      this.drawSuccessors(slot);
      yield { kind: 'item', event: this.itemEvent(slot, true, now) };
    }
    this.popularity.rebuild();
  }

  private fillItem(slot: number, itemNumber: number, primary: number, tags: string[]): void {
    const rng = this.rng;
    const D = LATENT_DIMENSION;
    this.slotItem[slot] = itemNumber;
    this.slotItemId[slot] = `i${itemNumber}`;
    let secondary = -1;
    if (this.categoryCount > 1 && rng.next() < 0.25) {
      secondary = this.sampleCategory();
      if (secondary === primary)
        secondary = (primary + 1 + rng.int(this.categoryCount - 1)) % this.categoryCount;
    }
    this.slotSecondary[slot] = secondary;
    const primaryWeight = secondary >= 0 ? 0.85 : 1;
    for (let d = 0; d < D; d++) {
      let v = primaryWeight * this.centres[primary * D + d]! + 0.15 * rng.normal();
      if (secondary >= 0) v += 0.5 * this.centres[secondary * D + d]!;
      this.slotLatent[slot * D + d] = v;
    }
    normalize(this.slotLatent, slot * D, D);

    const adjective = rng.pick(ADJECTIVES);
    const noun = rng.pick(NOUNS);
    const pattern = rng.int(4);
    this.slotTitle[slot] =
      pattern === 0
        ? `The ${adjective} ${noun}`
        : pattern === 1
          ? `${adjective} ${noun}`
          : pattern === 2
            ? `${noun} of the ${adjective} ${rng.pick(NOUNS)}`
            : `The ${noun} and the ${rng.pick(NOUNS)}`;
    const tagCount = rng.int(3);
    for (let t = 0; t < tagCount; t++) {
      const tag = rng.pick(TAGS);
      if (!tags.includes(tag)) tags.push(tag);
    }
    this.slotTags[slot] = tags;
  }

  /** Zipf(1.0): the item at rank r (from 0) has base popularity 1 / (r + 1). */
  private setRank(slot: number, rank: number): void {
    this.slotRank[slot] = rank;
    this.rankSlot[rank] = slot;
    const popularity = 1 / (rank + 1);
    this.slotLogPopularity[slot] = Math.log(popularity);
    this.popularity.weights[slot] = popularity;
  }

  private drawSuccessors(slot: number): void {
    const rng = this.rng;
    const members = this.slotsByCategory[this.slotPrimary[slot]!]!;
    for (let j = 0; j < SUCCESSORS_PER_ITEM; j++) {
      let successor = slot;
      for (let attempt = 0; attempt < 8 && successor === slot; attempt++) {
        // Sequels and complements mostly stay in the genre; the rest are cross-genre hops.
        successor =
          rng.next() < 0.8 && members.length > 1
            ? members[rng.int(members.length)]!
            : rng.int(this.slotCount);
      }
      this.slotSuccessors[slot * SUCCESSORS_PER_ITEM + j] = successor;
    }
  }

  private itemEvent(slot: number, available: boolean, updatedAt: number): ItemEvent {
    const primary = this.slotPrimary[slot]!;
    const secondary = this.slotSecondary[slot]!;
    const categories = [this.categoryNames[primary]!];
    if (secondary >= 0) categories.push(this.categoryNames[secondary]!);
    return {
      itemId: this.slotItemId[slot]!,
      op: 'upsert',
      title: this.slotTitle[slot]!,
      categories,
      tags: [...this.slotTags[slot]!],
      available,
      contentVector: this.contentVector(slot),
      updatedAt,
    };
  }

  private contentVector(slot: number): number[] | null {
    const projection = this.contentProjection;
    if (projection === null) return null;
    const D = LATENT_DIMENSION;
    const k = projection.length / D;
    // Noise seeded by the item id: the retirement upsert repeats the vector of the original one.
    const noiseRng = new Random(hashString(this.slotItemId[slot]!, this.contentSeed));
    const out = new Array<number>(k);
    let norm = 0;
    for (let i = 0; i < k; i++) {
      let v = 0;
      for (let d = 0; d < D; d++) v += projection[i * D + d]! * this.slotLatent[slot * D + d]!;
      v += (0.4 / Math.sqrt(k)) * noiseRng.normal();
      out[i] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < k; i++) out[i] = out[i]! / norm;
    return out;
  }

  private affinity(u: number, slot: number): number {
    const D = LATENT_DIMENSION;
    const a = u * D;
    const b = slot * D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += this.userTaste[a + d]! * this.slotLatent[b + d]!;
    return dot;
  }

  private computeTarget(u: number): void {
    const D = LATENT_DIMENSION;
    this.target.fill(0);
    for (let j = 0; j < this.userCategoryCount[u]!; j++) {
      const c = this.userCategories[u * 3 + j]!;
      const w = this.userCategoryWeights[u * 3 + j]!;
      for (let d = 0; d < D; d++) this.target[d]! += w * this.centres[c * D + d]!;
    }
    normalize(this.target, 0, D);
  }

  private refreshTaste(u: number): void {
    const D = LATENT_DIMENSION;
    for (let d = 0; d < D; d++) this.userTaste[u * D + d] = this.userLatent[u * D + d]!;
    normalize(this.userTaste, u * D, D);
  }

  private userHasCategory(u: number, count: number, c: number): boolean {
    for (let j = 0; j < count; j++) if (this.userCategories[u * 3 + j] === c) return true;
    return false;
  }

  private seen(u: number, item: number): boolean {
    const h = seenHash(u, item);
    const b1 = h >>> 20;
    const b2 = (h >>> 8) & (SEEN_BITS - 1);
    for (let g = 0; g < 2; g++) {
      const base = (u * 2 + g) * SEEN_WORDS;
      if (
        (this.userSeen[base + (b1 >>> 5)]! & (1 << (b1 & 31))) !== 0 &&
        (this.userSeen[base + (b2 >>> 5)]! & (1 << (b2 & 31))) !== 0
      ) {
        return true;
      }
    }
    return false;
  }

  private remember(u: number, item: number): void {
    if (this.userSeenCount[u]! >= SEEN_PER_GENERATION) {
      // The older generation is forgotten wholesale: a Bloom filter cannot delete single items.
      const next = 1 - this.userSeenGeneration[u]!;
      this.userSeenGeneration[u] = next;
      this.userSeenCount[u] = 0;
      const base = (u * 2 + next) * SEEN_WORDS;
      this.userSeen.fill(0, base, base + SEEN_WORDS);
    }
    const h = seenHash(u, item);
    const b1 = h >>> 20;
    const b2 = (h >>> 8) & (SEEN_BITS - 1);
    const base = (u * 2 + this.userSeenGeneration[u]!) * SEEN_WORDS;
    this.userSeen[base + (b1 >>> 5)]! |= 1 << (b1 & 31);
    this.userSeen[base + (b2 >>> 5)]! |= 1 << (b2 & 31);
    this.userSeenCount[u]!++;
  }

  private sampleCategory(): number {
    const cumulative = this.categoryCumulative;
    const r = this.rng.next() * cumulative[cumulative.length - 1]!;
    let c = 0;
    while (c < cumulative.length - 1 && r >= cumulative[c]!) c++;
    return c;
  }

  private shuffledRange(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }

  /** Exponential gap scaled by activity; heavy users return within the hour, light ones in days. */
  private sessionGap(u: number): number {
    const mean = MEAN_SESSION_GAP_MS / this.userActivity[u]!;
    return Math.round(MIN_SESSION_GAP_MS + -Math.log(1 - this.rng.next()) * mean);
  }

  /** Log-normal, median 25 s, clamped to 1 s .. 10 min. */
  private withinSessionGap(): number {
    const gap = Math.exp(Math.log(25_000) + 0.9 * this.rng.normal());
    return Math.round(Math.min(600_000, Math.max(1_000, gap)));
  }
}
