import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlsMethod, DEFAULT_ALS_CONFIG } from '../../bench/quality/baselines/als.js';
import { TopK } from '../../bench/quality/baselines/common.js';
import {
  CoOccurrenceMethod,
  DEFAULT_COOCCURRENCE_CONFIG,
} from '../../bench/quality/baselines/cooccurrence.js';
import { DEFAULT_ISGD_CONFIG, IsgdMethod } from '../../bench/quality/baselines/isgd.js';
import { DEFAULT_POPULARITY_CONFIG, PopularityMethod } from '../../bench/quality/baselines/popularity.js';
import { DEFAULT_SESSION_KNN_CONFIG, SessionKnnMethod } from '../../bench/quality/baselines/session-knn.js';
import type { StreamingMethod } from '../../bench/quality/harness.js';
import { applyOverrides, ConfigError, gridPoints, parseGridFile } from '../../bench/quality/methods.js';
import type { ClickEvent, EventType, ItemEvent } from '../../streams/model/events.js';
import { Random } from '../../streams/util/random.js';

const HOUR = 3_600_000;

function item(itemId: string, available = true): ItemEvent {
  return {
    itemId,
    op: 'upsert',
    title: itemId,
    categories: [],
    tags: [],
    available,
    contentVector: null,
    updatedAt: 0,
  };
}

let eventCounter = 0;
function click(userId: string, itemId: string, eventTime: number, type: EventType = 'click'): ClickEvent {
  return { eventId: `e${++eventCounter}`, userId, itemId, type, eventTime, sessionId: null, context: {} };
}

const ITEMS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

function started<M extends StreamingMethod>(method: M, items = ITEMS): M {
  void method.start?.(items.map((id) => item(id)));
  return method;
}

async function serve(method: StreamingMethod, userId: string, k = 20): Promise<readonly string[]> {
  return await method.serve(userId, k);
}

test('TopK keeps the k best, best first, ties to the lower index', () => {
  const top = new TopK(3);
  for (const [i, s] of [
    [0, 1],
    [1, 5],
    [2, 3],
    [3, 5],
    [4, 0],
    [5, 4],
  ] as const) {
    top.offer(i, s);
  }
  assert.deepEqual(top.sorted(), [1, 3, 5]);
  top.reset(2);
  top.offer(7, 1);
  assert.deepEqual(top.sorted(), [7]);
});

test('popularity ranks the most popular unseen item first', async () => {
  const pop = started(new PopularityMethod({ halfLifeHours: 0, learnFrom: 'all' }));
  pop.learn(click('u1', 'c', 1));
  pop.learn(click('u2', 'c', 2));
  pop.learn(click('u3', 'c', 3));
  pop.learn(click('u1', 'b', 4));
  pop.learn(click('u2', 'b', 5));
  pop.learn(click('u3', 'e', 6));
  assert.deepEqual((await serve(pop, 'new', 3)).slice(0, 3), ['c', 'b', 'e']);
  // u1 saw c and b: the most popular item it has not seen is e.
  assert.equal((await serve(pop, 'u1'))[0], 'e');
});

test('popularity decays with event time at its half-life', async () => {
  const events = [
    click('u1', 'a', 0),
    click('u2', 'a', 0),
    click('u3', 'a', 0),
    click('u4', 'b', 10 * HOUR),
    click('u5', 'b', 10 * HOUR),
  ];
  const counts = started(new PopularityMethod({ halfLifeHours: 0, learnFrom: 'all' }));
  const recent = started(new PopularityMethod({ halfLifeHours: 1, learnFrom: 'all' }));
  for (const e of events) {
    counts.learn(e);
    recent.learn(e);
  }
  assert.equal((await serve(counts, 'x'))[0], 'a');
  assert.equal((await serve(recent, 'x'))[0], 'b');
});

test("learnFrom 'positive' ignores dislikes and skips; 'all' counts them", async () => {
  const events = [click('u1', 'a', 1, 'dislike'), click('u2', 'a', 2, 'skip'), click('u3', 'b', 3)];
  const all = started(new PopularityMethod({ halfLifeHours: 0, learnFrom: 'all' }));
  const positive = started(new PopularityMethod({ halfLifeHours: 0, learnFrom: 'positive' }));
  for (const e of events) {
    all.learn(e);
    positive.learn(e);
  }
  assert.equal((await serve(all, 'x'))[0], 'a');
  assert.equal((await serve(positive, 'x'))[0], 'b');
  // Either way the disliked item counts as seen.
  assert.ok(!(await serve(positive, 'u1')).includes('a'));
});

test('co-occurrence recommends the item that followed', async () => {
  const co = started(new CoOccurrenceMethod({ ...DEFAULT_COOCCURRENCE_CONFIG, n: 3 }));
  // Popularity alone would say f (clicked most), co-occurrence says d follows a.
  let t = 0;
  for (const u of ['u1', 'u2', 'u3']) {
    co.learn(click(u, 'a', ++t));
    co.learn(click(u, 'd', ++t));
  }
  for (const u of ['v1', 'v2', 'v3', 'v4', 'v5']) co.learn(click(u, 'f', ++t));
  co.learn(click('w', 'a', ++t));
  const list = await serve(co, 'w');
  assert.equal(list[0], 'd');
  // Beyond the scored neighbours the list is filled by popularity, never short.
  assert.equal(list[1], 'f');
  assert.equal(list.length, ITEMS.length - 1);
});

test('co-occurrence: cosine normalisation damps an item that co-occurs with everything', async () => {
  const raw = started(
    new CoOccurrenceMethod({ ...DEFAULT_COOCCURRENCE_CONFIG, n: 2, normalization: 'none' }),
  );
  const cosine = started(
    new CoOccurrenceMethod({ ...DEFAULT_COOCCURRENCE_CONFIG, n: 2, normalization: 'cosine' }),
  );
  const events: ClickEvent[] = [];
  let t = 0;
  // a→b twice; h follows a three times but also everything else, many times.
  for (const u of ['u1', 'u2']) events.push(click(u, 'a', ++t), click(u, 'b', ++t));
  for (const u of ['v1', 'v2', 'v3']) events.push(click(u, 'a', ++t), click(u, 'h', ++t));
  for (let i = 0; i < 30; i++) {
    const other = ['c', 'd', 'e', 'f', 'g'][i % 5]!;
    events.push(click(`z${i}`, other, ++t), click(`z${i}`, 'h', ++t));
  }
  for (const e of events) {
    raw.learn(e);
    cosine.learn(e);
  }
  raw.learn(click('w', 'a', ++t));
  cosine.learn(click('w', 'a', t));
  assert.equal((await serve(raw, 'w'))[0], 'h');
  assert.equal((await serve(cosine, 'w'))[0], 'b');
});

test('ISGD learns a repeated pattern', async () => {
  // Two tastes: even users interact with six of a0–a9, odd users with six of b0–b9.
  const a = Array.from({ length: 10 }, (_, i) => `a${i}`);
  const b = Array.from({ length: 10 }, (_, i) => `b${i}`);
  const isgd = started(new IsgdMethod({ ...DEFAULT_ISGD_CONFIG, learningRate: 0.2 }), [...a, ...b]);
  const random = new Random(3);
  let t = 0;
  for (let u = 0; u < 200; u++) {
    const taste = u % 2 === 0 ? a : b;
    const picked = [...taste].sort(() => random.next() - 0.5).slice(0, 6);
    for (const i of picked) isgd.learn(click(`u${u}`, i, ++t));
  }
  for (const i of a.slice(0, 5)) isgd.learn(click('w1', i, ++t));
  for (const i of b.slice(0, 5)) isgd.learn(click('w2', i, ++t));
  // The five items of their taste they have not seen come first.
  assert.deepEqual([...(await serve(isgd, 'w1', 5))].sort(), a.slice(5));
  assert.deepEqual([...(await serve(isgd, 'w2', 5))].sort(), b.slice(5));
});

test('ISGD serves popularity to a user it has no factors for', async () => {
  const isgd = started(new IsgdMethod(DEFAULT_ISGD_CONFIG));
  for (const u of ['u1', 'u2', 'u3']) isgd.learn(click(u, 'd', 1));
  isgd.learn(click('u4', 'b', 2));
  assert.deepEqual((await serve(isgd, 'new', 2)).slice(0, 2), ['d', 'b']);
});

test('session-kNN recommends what the most similar sessions clicked next', async () => {
  const sknn = started(new SessionKnnMethod(DEFAULT_SESSION_KNN_CONFIG));
  let t = 0;
  // Sessions a→b→c (three of them) and a→d (one); f is the most popular item overall.
  for (const u of ['u1', 'u2', 'u3']) for (const i of ['a', 'b', 'c']) sknn.learn(click(u, i, ++t));
  sknn.learn(click('v', 'a', ++t));
  sknn.learn(click('v', 'd', ++t));
  for (const u of ['p1', 'p2', 'p3', 'p4', 'p5', 'p6']) sknn.learn(click(u, 'f', ++t));
  sknn.learn(click('w', 'a', ++t));
  sknn.learn(click('w', 'b', ++t));
  const list = await serve(sknn, 'w');
  assert.equal(list[0], 'c');
  // Past the neighbours' votes, popularity fills the list.
  assert.equal(list.indexOf('f'), 2, `${list}`);
  assert.equal(list.length, ITEMS.length - 2);
});

test('live ALS learns two tastes, retrained during the stream and folded in per click', async () => {
  const a = Array.from({ length: 10 }, (_, i) => `a${i}`);
  const b = Array.from({ length: 10 }, (_, i) => `b${i}`);
  const als = new AlsMethod({ ...DEFAULT_ALS_CONFIG, factors: 8, retrainFraction: 0.1 });
  await als.start(
    [...a, ...b].map((id) => item(id)),
    { clicks: 1_200 },
  );
  const random = new Random(5);
  let t = 0;
  for (let u = 0; u < 200; u++) {
    const taste = u % 2 === 0 ? a : b;
    for (const i of [...taste].sort(() => random.next() - 0.5).slice(0, 6)) als.learn(click(`u${u}`, i, ++t));
  }
  // Two new users after the last retraining: their vectors come from folding in alone.
  for (const i of a.slice(0, 5)) als.learn(click('w1', i, ++t));
  for (const i of b.slice(0, 5)) als.learn(click('w2', i, ++t));
  // A small, noisy sample: at least four of the five best are of the user's taste (at random: 1.25).
  const ofTaste = (list: readonly string[], taste: readonly string[]): number =>
    list.filter((i) => taste.includes(i)).length;
  assert.ok(ofTaste(await serve(als, 'w1', 5), a) >= 4, `${await serve(als, 'w1', 5)}`);
  assert.ok(ofTaste(await serve(als, 'w2', 5), b) >= 4, `${await serve(als, 'w2', 5)}`);
});

for (const [name, make] of [
  ['session-kNN', () => new SessionKnnMethod(DEFAULT_SESSION_KNN_CONFIG)],
  ['ALS', () => new AlsMethod({ ...DEFAULT_ALS_CONFIG, factors: 8 })],
  ['popularity', () => new PopularityMethod(DEFAULT_POPULARITY_CONFIG)],
  ['co-occurrence', () => new CoOccurrenceMethod({ ...DEFAULT_COOCCURRENCE_CONFIG, n: 10 })],
  ['ISGD (stale negatives)', () => new IsgdMethod(DEFAULT_ISGD_CONFIG)],
  ['ISGD (popular negatives)', () => new IsgdMethod({ ...DEFAULT_ISGD_CONFIG, negativeSampling: 'popular' })],
] as const) {
  test(`${name} never serves an item the user interacted with, nor an unavailable one`, async () => {
    const items = Array.from({ length: 40 }, (_, i) => `i${i}`);
    const method: StreamingMethod = make();
    await method.start?.(items.map((id) => item(id)));
    const random = new Random(9);
    const seen = new Map<string, Set<string>>();
    const retired = new Set<string>();
    for (let t = 0; t < 2_000; t++) {
      if (t === 1_000) {
        for (const id of ['i0', 'i1', 'i2']) {
          retired.add(id);
          await method.catalog?.(item(id, false));
        }
      }
      const userId = `u${random.int(30)}`;
      // Skewed item choice, so popularity and co-occurrence have something to find.
      const itemId = items[Math.floor(random.next() ** 2 * items.length)]!;
      const list = await method.serve(userId, 20);
      const mine = seen.get(userId) ?? new Set<string>();
      for (const served of list) {
        assert.ok(!mine.has(served), `${served} served to ${userId} again`);
        assert.ok(!retired.has(served), `retired ${served} served`);
      }
      assert.equal(new Set(list).size, list.length, 'no duplicates');
      const type: EventType = random.next() < 0.1 ? 'dislike' : 'click';
      await method.learn(click(userId, itemId, t * 60_000, type));
      mine.add(itemId);
      seen.set(userId, mine);
    }
  });
}

test('overrides address settings by dotted path and reject unknown paths and wrong types', () => {
  const base = { a: 1, nested: { b: 'x', c: true } };
  assert.deepEqual(applyOverrides(base, { a: 2, 'nested.b': 'y' }), { a: 2, nested: { b: 'y', c: true } });
  assert.deepEqual(base, { a: 1, nested: { b: 'x', c: true } }, 'the base is not modified');
  assert.throws(() => applyOverrides(base, { 'nested.d': 1 }), ConfigError);
  assert.throws(() => applyOverrides(base, { nested: 1 }), ConfigError);
  assert.throws(() => applyOverrides(base, { a: 'one' }), ConfigError);
});

test('grid points are the cartesian product; grid files are validated', () => {
  assert.deepEqual(gridPoints({ x: [1, 2], y: ['a', 'b'] }), [
    { x: 1, y: 'a' },
    { x: 1, y: 'b' },
    { x: 2, y: 'a' },
    { x: 2, y: 'b' },
  ]);
  const grid = parseGridFile(
    { eddy: { parameters: { 'ranking.weights.longTerm': [0, 1], shortTermHalfLifeMs: [60_000] } } },
    'grid.json',
  );
  assert.equal(grid.eddy?.search, 'coordinate');
  assert.throws(
    () => parseGridFile({ eddy: { parameters: { 'ranking.weights.nope': [1] } } }, 'g'),
    ConfigError,
  );
  assert.throws(() => parseGridFile({ nope: { parameters: {} } }, 'g'), ConfigError);
  assert.throws(() => parseGridFile({ isgd: { parameters: { factors: [] } } }, 'g'), ConfigError);
});
