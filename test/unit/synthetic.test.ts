import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClickEvent, EVENT_TYPES, type ItemEvent } from '../../streams/model/events.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { DEFAULT_SYNTHETIC_OPTIONS, syntheticStream } from '../../streams/sources/synthetic.js';
import { Random } from '../../streams/util/random.js';

function take(stream: Iterator<StreamEvent>, n: number): StreamEvent[] {
  const out: StreamEvent[] = [];
  while (out.length < n) {
    const next = stream.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

interface Replay {
  items: Map<string, ItemEvent>;
  clicks: ClickEvent[];
}

// The statistical tests share one replay: generating it is the expensive part.
let sharedReplay: Replay | null = null;
function replay(): Replay {
  if (sharedReplay === null) {
    const items = new Map<string, ItemEvent>();
    const clicks: ClickEvent[] = [];
    for (const e of syntheticStream({ events: 200_000 })) {
      if (e.kind === 'item') items.set(e.event.itemId, e.event);
      else clicks.push(e.event);
    }
    sharedReplay = { items, clicks };
  }
  return sharedReplay;
}

function primaryCategory(r: Replay, itemId: string): string {
  const category = r.items.get(itemId)?.categories[0];
  assert.ok(category !== undefined, `item ${itemId} has no category`);
  return category;
}

function entropyBits(counts: Iterable<number>): number {
  const values = [...counts];
  const total = values.reduce((a, b) => a + b, 0);
  let h = 0;
  for (const v of values) if (v > 0) h -= (v / total) * Math.log2(v / total);
  return h;
}

function topShare(counts: Iterable<number>, k: number): number {
  const values = [...counts].sort((a, b) => b - a);
  const total = values.reduce((a, b) => a + b, 0);
  return values.slice(0, k).reduce((a, b) => a + b, 0) / total;
}

function increment<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

test('the same seed gives the same stream, another seed a different one', () => {
  const a = take(syntheticStream({ seed: 7, users: 300, items: 400 }), 5_000);
  const b = take(syntheticStream({ seed: 7, users: 300, items: 400 }), 5_000);
  const c = take(syntheticStream({ seed: 8, users: 300, items: 400 }), 5_000);
  assert.equal(a.length, 5_000);
  assert.ok(
    a.some((e) => e.kind === 'click'),
    'the first 5,000 events should reach the clicks',
  );
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('the whole catalog comes first, stamped with the start time', () => {
  const startTime = Date.UTC(2030, 5, 1);
  const events = take(syntheticStream({ items: 500, users: 100, startTime }), 600);
  const catalog = events.slice(0, 500);
  const ids = new Set<string>();
  for (const e of catalog) {
    assert.equal(e.kind, 'item');
    if (e.kind !== 'item') continue;
    assert.equal(e.event.op, 'upsert');
    assert.equal(e.event.available, true);
    assert.equal(e.event.updatedAt, startTime);
    assert.equal(e.event.contentVector, null);
    assert.ok(e.event.title.length > 0);
    assert.ok(e.event.categories.length >= 1 && e.event.categories.length <= 2);
    ids.add(e.event.itemId);
  }
  assert.equal(ids.size, 500);
  const firstClick = events[500];
  assert.equal(firstClick?.kind, 'click');
  if (firstClick?.kind === 'click') assert.ok(firstClick.event.eventTime >= startTime);
});

test('time never goes backwards and every click is on an available catalog item', () => {
  const available = new Map<string, boolean>();
  let last = Number.NEGATIVE_INFINITY;
  let retired = 0;
  let added = 0;
  let clicksOnNewItems = 0;
  const newItems = new Set<string>();
  const eventIds = new Set<string>();
  let clicks = 0;
  for (const e of syntheticStream({ users: 500, items: 800, events: 60_000 })) {
    if (e.kind === 'item') {
      assert.ok(e.event.updatedAt >= last, 'catalog change before the preceding event');
      last = e.event.updatedAt;
      if (!e.event.available) retired++;
      else if (available.has(e.event.itemId)) assert.fail(`item ${e.event.itemId} added twice`);
      if (e.event.available && e.event.tags.includes('new-release')) {
        added++;
        newItems.add(e.event.itemId);
      }
      available.set(e.event.itemId, e.event.available);
      continue;
    }
    const c = e.event;
    clicks++;
    assert.ok(c.eventTime >= last, `event ${c.eventId} goes back in time`);
    last = c.eventTime;
    assert.equal(available.get(c.itemId), true, `click ${c.eventId} on ${c.itemId}, not available`);
    assert.match(c.userId, /^u\d+$/);
    assert.match(c.itemId, /^i\d+$/);
    assert.ok(c.sessionId !== null && c.sessionId.length > 0);
    assert.ok(['mobile', 'web', 'tv'].includes(c.context.device ?? ''));
    assert.ok(!eventIds.has(c.eventId), `duplicate event id ${c.eventId}`);
    eventIds.add(c.eventId);
    if (newItems.has(c.itemId)) clicksOnNewItems++;
  }
  assert.equal(clicks, 60_000);
  assert.ok(retired > 0 && retired === added, `retired ${retired}, added ${added}`);
  assert.ok(clicksOnNewItems > 0, 'new items should get interactions');
  // A new item takes over a retired item's slot, so the live catalog never grows.
  assert.equal([...available.values()].filter(Boolean).length, 800);
});

test('the stream ends after `events` clicks, and never when it is Infinity', () => {
  const count = (events: number): number =>
    [...syntheticStream({ users: 50, items: 100, events })].filter((e) => e.kind === 'click').length;
  assert.equal(count(0), 0);
  assert.equal(count(1_234), 1_234);
  const endless = syntheticStream({ users: 50, items: 100, events: Number.POSITIVE_INFINITY });
  assert.equal(take(endless, 50_000).length, 50_000);
  assert.equal(endless.next().done, false);
});

test('invalid options throw at the call', () => {
  assert.throws(() => syntheticStream({ users: 0 }), RangeError);
  assert.throws(() => syntheticStream({ events: -1 }), RangeError);
  assert.throws(() => syntheticStream({ items: 1.5 }), RangeError);
  assert.throws(() => syntheticStream({ contentVectorDimension: 0 }), RangeError);
  assert.equal(DEFAULT_SYNTHETIC_OPTIONS.events, 300_000);
});

test('content vectors have the asked dimension and leave the clicks unchanged', () => {
  const options = { users: 200, items: 300, events: 3_000 };
  const plain = [...syntheticStream(options)];
  const withVectors = [...syntheticStream({ ...options, contentVectorDimension: 8 })];
  assert.equal(plain.length, withVectors.length);
  const vectors = new Map<string, number[]>();
  for (let i = 0; i < plain.length; i++) {
    const p = plain[i]!;
    const v = withVectors[i]!;
    if (p.kind === 'click') {
      assert.deepEqual(v, p);
      continue;
    }
    assert.equal(v.kind, 'item');
    if (v.kind !== 'item') continue;
    const vector = v.event.contentVector;
    assert.ok(vector !== null && vector.length === 8 && vector.every(Number.isFinite));
    const earlier = vectors.get(v.event.itemId);
    if (earlier !== undefined) assert.deepEqual(vector, earlier, 'an item keeps its content vector');
    vectors.set(v.event.itemId, vector);
  }
});

test('every event type occurs, views most, negatives a small share', () => {
  const counts = new Map<string, number>();
  for (const c of replay().clicks) increment(counts, c.type);
  for (const type of EVENT_TYPES) assert.ok((counts.get(type) ?? 0) > 0, `no ${type} events`);
  const total = replay().clicks.length;
  const share = (t: string): number => (counts.get(t) ?? 0) / total;
  assert.ok(share('view') > 0.35, `view share ${share('view')}`);
  for (const type of EVENT_TYPES) if (type !== 'view') assert.ok(share(type) < share('view'));
  const negative = share('dislike') + share('skip');
  assert.ok(negative > 0.02 && negative < 0.1, `dislike+skip share ${negative}`);
});

test('popularity is skewed: the top 10% of items get a large share of the clicks', () => {
  const r = replay();
  const perItem = new Map<string, number>();
  for (const c of r.clicks) increment(perItem, c.itemId);
  const top = Math.ceil(r.items.size * 0.1);
  const share = topShare(perItem.values(), top);
  assert.ok(share > 0.25, `top 10% of items have ${share} of the clicks (uniform would be 0.1)`);
});

test('personalisation: heavy users click in far fewer categories than the crowd', () => {
  const r = replay();
  const global = new Map<string, number>();
  const perUser = new Map<string, Map<string, number>>();
  for (const c of r.clicks) {
    const category = primaryCategory(r, c.itemId);
    increment(global, category);
    let m = perUser.get(c.userId);
    if (m === undefined) {
      m = new Map();
      perUser.set(c.userId, m);
    }
    increment(m, category);
  }
  const heavy = [...perUser.values()].filter((m) => [...m.values()].reduce((a, b) => a + b, 0) >= 200);
  assert.ok(heavy.length >= 50, `only ${heavy.length} users with 200+ clicks`);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const userEntropy = mean(heavy.map((m) => entropyBits(m.values())));
  const globalEntropy = entropyBits(global.values());
  assert.ok(
    userEntropy < globalEntropy - 0.75,
    `heavy users' category entropy ${userEntropy.toFixed(2)} bits vs global ${globalEntropy.toFixed(2)}`,
  );
  const userTop3 = mean(heavy.map((m) => topShare(m.values(), 3)));
  const globalTop3 = topShare(global.values(), 3);
  assert.ok(userTop3 > 1.5 * globalTop3, `top-3 category share ${userTop3} vs global ${globalTop3}`);
});

test('sequential structure: in-session transitions repeat far more often than by chance', () => {
  const r = replay();
  const previousInSession = new Map<string, string>();
  const from: string[] = [];
  const to: string[] = [];
  for (const c of r.clicks) {
    const key = c.sessionId ?? '';
    const previous = previousInSession.get(key);
    if (previous !== undefined) {
      from.push(previous);
      to.push(c.itemId);
    }
    previousInSession.set(key, c.itemId);
  }
  // Share of each item's next clicks that go to its 3 most frequent followers.
  const topFollowerShare = (next: readonly string[]): number => {
    const byItem = new Map<string, Map<string, number>>();
    for (let i = 0; i < from.length; i++) {
      let m = byItem.get(from[i]!);
      if (m === undefined) {
        m = new Map();
        byItem.set(from[i]!, m);
      }
      increment(m, next[i]!);
    }
    let top = 0;
    let total = 0;
    for (const m of byItem.values()) {
      const n = [...m.values()].reduce((a, b) => a + b, 0);
      if (n < 20) continue;
      top += topShare(m.values(), 3) * n;
      total += n;
    }
    return top / total;
  };
  const shuffled = [...to];
  const rng = new Random(1);
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const actual = topFollowerShare(to);
  const chance = topFollowerShare(shuffled);
  assert.ok(actual > 3 * chance, `top-3 follower share ${actual} vs ${chance} with shuffled followers`);
});
