import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoVisitation, NeighbourScores } from '../../streams/model/co-visitation.js';
import { ItemModel } from '../../streams/model/item-model.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import { selectTop, Trending } from '../../streams/model/trending.js';
import { cosine, dot } from '../../streams/model/vector-math.js';
import { diversify } from '../../streams/recommend/diversify.js';

const DAY = 86_400_000;

function neighbourScores(): NeighbourScores {
  return new NeighbourScores();
}

test('co-visitation: follows are counted, decay with time, neighbours stay bounded', () => {
  const co = new CoVisitation({
    halfLifeMs: DAY,
    window: 3,
    maxNeighbours: 4,
    reverseWeight: 0.5,
    proximityDecay: 0.5,
    sequenceDecay: 0,
    pairHalfLifeMs: 0,
    sessionLengthExponent: 0,
  });
  co.record('b', ['a'], 1, 0);
  assert.equal(co.weight('a', 'b', 0), 1);
  assert.equal(co.weight('b', 'a', 0), 0.5);
  assert.equal(co.weight('a', 'b', DAY), 0.5);
  co.record('b', ['a'], 1, DAY);
  assert.equal(co.weight('a', 'b', DAY), 1.5);
  // Only the last `window` preceding items count, nearer ones more.
  co.record('z', ['p', 'q', 'r', 's'], 1, 0);
  assert.equal(co.weight('p', 'z', 0), 0);
  assert.ok(co.weight('s', 'z', 0) > co.weight('q', 'z', 0));
  // With sequenceDecay 0 the sequential weight keeps only the adjacent pair.
  assert.equal(co.weight('s', 'z', 0, 'sequential'), 1);
  assert.equal(co.weight('r', 'z', 0, 'sequential'), 0);
  assert.equal(co.weight('z', 's', 0, 'sequential'), 0.5);
  for (let i = 0; i < 100; i++) co.record(`n${i}`, ['hub'], 1 + i, 0);
  assert.ok(co.neighbourCount('hub') <= 6, 'pruned to the cap once 50% over it');
  const scores = neighbourScores();
  co.accumulateNeighbours('hub', 1, 0, scores);
  assert.ok(scores.scores('window').has('n99'), 'the strongest neighbour survives pruning');
  assert.equal(scores.scores('sequential').get('n99'), 100);
});

test('co-visitation: seed normalisation turns a busy seed into a distribution', () => {
  const co = new CoVisitation({
    halfLifeMs: DAY,
    window: 1,
    maxNeighbours: 10,
    reverseWeight: 0,
    proximityDecay: 1,
    sequenceDecay: 1,
    pairHalfLifeMs: 0,
    sessionLengthExponent: 0,
  });
  // 'busy' has 10× the co-visits of 'quiet'.
  for (let i = 0; i < 10; i++) co.record('b1', ['busy'], 1, 0);
  for (let i = 0; i < 10; i++) co.record('b2', ['busy'], 1, 0);
  co.record('q1', ['quiet'], 1, 0);
  co.record('q2', ['quiet'], 1, 0);
  const raw = neighbourScores();
  co.accumulateNeighbours('busy', 1, 0, raw);
  co.accumulateNeighbours('quiet', 1, 0, raw);
  assert.equal(raw.scores('window').get('b1'), 10);
  assert.equal(raw.scores('window').get('q1'), 1);
  const normalised = neighbourScores();
  co.accumulateNeighbours('busy', 1, 0, normalised, 1);
  co.accumulateNeighbours('quiet', 1, 0, normalised, 1);
  // Each seed now contributes P(next | seed): 0.5 per neighbour, whatever its volume.
  assert.equal(normalised.scores('window').get('b1'), 0.5);
  assert.equal(normalised.scores('window').get('q1'), 0.5);
  const half = neighbourScores();
  co.accumulateNeighbours('busy', 1, 0, half, 0.5);
  assert.ok(Math.abs((half.scores('window').get('b1') ?? 0) - 10 / Math.sqrt(20)) < 1e-12);
  // sequenceDecay 1 with window 1: the sequential weights equal the window weights.
  assert.deepEqual([...half.scores('sequential')], [...half.scores('window')]);
});

test('co-visitation: a pair counts less the longer apart its two interactions were', () => {
  const hour = 3_600_000;
  const co = new CoVisitation({
    halfLifeMs: DAY,
    window: 5,
    maxNeighbours: 10,
    reverseWeight: 1,
    proximityDecay: 1,
    sequenceDecay: 1,
    pairHalfLifeMs: hour,
    sessionLengthExponent: 0,
  });
  const t = 10 * hour;
  co.record('b', ['old', 'recent'], 1, t, [t - 2 * hour, t]);
  assert.equal(co.weight('recent', 'b', t), 1);
  assert.ok(Math.abs(co.weight('old', 'b', t) - 0.25) < 1e-12, 'two half-lives apart: a quarter');
  assert.ok(Math.abs(co.weight('b', 'old', t, 'sequential') - 0.25) < 1e-12, 'both kinds, both directions');
  // Without times the preceding items count as simultaneous.
  co.record('c', ['old', 'recent'], 1, t);
  assert.equal(co.weight('old', 'c', t), 1);
  assert.throws(
    () => co.record('d', ['old', 'recent'], 1, t, [t]),
    /2 preceding items need as many times, got 1/,
  );
});

test('co-visitation: with sessionLengthExponent, a transition weighs less the longer its session', () => {
  const minute = 60_000;
  const co = new CoVisitation(
    {
      halfLifeMs: 1_000 * DAY,
      window: 5,
      maxNeighbours: 10,
      reverseWeight: 0,
      proximityDecay: 1,
      sequenceDecay: 1,
      pairHalfLifeMs: 0,
      sessionLengthExponent: 1,
    },
    30 * minute,
  );
  const t = DAY;
  // x follows a in a session of two clicks; y follows b as the fourth click of one session; z follows
  // c after a gap of an hour: a session of its own first click, so the pair counts in full.
  co.record('x', ['a'], 1, t, [t - minute]);
  co.record('y', ['p', 'q', 'b'], 1, t, [t - 3 * minute, t - 2 * minute, t - minute]);
  co.record('z', ['c'], 1, t, [t - 60 * minute]);
  const close = (actual: number, expected: number, what: string): void =>
    assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual}, expected ${expected}`);
  close(co.weight('a', 'x', t, 'sequential'), 1 / 2, 'a session of two');
  close(co.weight('b', 'y', t, 'sequential'), 1 / 4, 'a session of four');
  close(co.weight('c', 'z', t, 'sequential'), 1, 'a new session');
  // The window weight (taste) is not weighed by session length.
  close(co.weight('b', 'y', t), 1, 'window weight');
});

test('trending: decayed popularity ranks recent bursts above old ones', () => {
  const t = new Trending({ halfLifeMs: DAY, size: 3 });
  for (let i = 0; i < 8; i++) t.record('old', 1, 0);
  for (let i = 0; i < 3; i++) t.record('new', 1, 3 * DAY);
  t.record('other', 1, 3 * DAY);
  // old: 8 × 2^-3 = 1 < new: 3.
  assert.deepEqual(t.topItems(), ['new', 'old', 'other']);
  assert.equal(t.relative('new'), 1);
  assert.ok(Math.abs(t.relative('old') - 1 / 3) < 1e-9);
  // Far-future events rebase without losing order or overflowing.
  t.record('late', 5, 400 * DAY);
  assert.equal(t.topItems()[0], 'late');
  assert.ok(Number.isFinite(t.relative('new')));
});

test('selectTop equals a full sort', () => {
  const scores = new Map<string, number>();
  for (let i = 0; i < 500; i++) scores.set(`k${i}`, (i * 7919) % 101);
  const expected = [...scores.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 17)
    .map(([k]) => k);
  assert.deepEqual(selectTop(scores, 17), expected);
  assert.deepEqual(selectTop(scores, 0), []);
});

test('item2vec: items that co-occur move together; negatives push apart', () => {
  const config = { ...DEFAULT_MODEL_CONFIG, dimension: 16 };
  const model = new ItemModel(config);
  for (const id of ['a', 'b', 'c', 'd', 'x', 'y', 'z', 'w']) model.ensure(id);
  const affinity = (p: string, q: string): number => dot(model.get(p)!.embedding, model.get(q)!.context);
  const before = affinity('a', 'b');
  for (let round = 0; round < 300; round++) {
    model.learn('b', ['a'], 1);
    model.learn('d', ['c'], 1);
    model.learn('y', ['x'], 1);
    model.learn('w', ['z'], 1);
  }
  assert.ok(affinity('a', 'b') > before + 1, `a→b affinity grew: ${before} → ${affinity('a', 'b')}`);
  assert.ok(affinity('a', 'b') > affinity('a', 'y'), 'co-occurring pair beats a pair that never co-occurs');
});

test('item2vec: content vectors seed cold items and drift triggers republishing', () => {
  const config = { ...DEFAULT_MODEL_CONFIG, dimension: 4 };
  const model = new ItemModel(config);
  model.upsertCatalog('cold', 'Cold', ['x'], true, [1, 0, 0, 0]);
  const out = new Float32Array(4);
  assert.ok(cosine(model.targetVector(model.get('cold')!, out), Float32Array.of(1, 0, 0, 0)) > 0.99);
  assert.deepEqual(
    model.takeDrifted().map((i) => i.itemId),
    ['cold'],
  );
  assert.deepEqual(model.takeDrifted(), [], 'nothing changed since publishing');
  model.upsertCatalog('cold', 'Cold', ['x'], false, null);
  assert.deepEqual(
    model.takeDrifted().map((i) => i.itemId),
    ['cold'],
    'catalog changes republish',
  );
});

test('MMR diversification trades relevance for novelty and is deterministic', () => {
  const vectors: Record<string, Float32Array> = {
    a: Float32Array.of(1, 0),
    a2: Float32Array.of(1, 0.01),
    b: Float32Array.of(0, 1),
  };
  const candidates = [
    { item: { itemId: 'a' }, score: 1 },
    { item: { itemId: 'a2' }, score: 0.95 },
    { item: { itemId: 'b' }, score: 0.7 },
  ];
  const vectorOf = (c: { item: { itemId: string } }, out: Float32Array): Float32Array => {
    out.set(vectors[c.item.itemId]!);
    const n = Math.hypot(out[0]!, out[1]!);
    out[0] = out[0]! / n;
    out[1] = out[1]! / n;
    return out;
  };
  const ids = (lambda: number): string[] =>
    diversify(candidates, { size: 2, lambda, poolSize: 10, dimension: 2 }, vectorOf).map(
      (c) => c.item.itemId,
    );
  assert.deepEqual(ids(1), ['a', 'a2']);
  assert.deepEqual(ids(0.5), ['a', 'b']);
  assert.deepEqual(ids(0.5), ids(0.5));
  assert.deepEqual(diversify([], { size: 3, lambda: 0.5, poolSize: 10, dimension: 2 }, vectorOf), []);
});

test('co-visitation: a neighbour’s score accumulator lives exactly as long as an edge points at it', () => {
  const co = new CoVisitation({
    halfLifeMs: DAY,
    window: 1,
    maxNeighbours: 2,
    reverseWeight: 0,
    proximityDecay: 1,
    sequenceDecay: 1,
    pairHalfLifeMs: 0,
    sessionLengthExponent: 0,
  });
  const referenced = (): number => {
    const targets = new Set<string>();
    for (const from of ['a', 'b', 'c']) for (const n of co.neighboursAt(from, 0)) targets.add(n.itemId);
    return targets.size;
  };
  for (let i = 0; i < 40; i++) co.record(`x${i}`, ['a'], 1 + i, 0);
  co.record('x39', ['b'], 1, 0);
  assert.ok(co.neighbourCount('a') <= 3, 'pruned');
  assert.equal(co.targetCount, referenced(), 'pruned edges took their accumulators along');
  co.removeItem('a');
  assert.equal(co.targetCount, 1, 'only b → x39 is left');
  co.restoreNeighbours(
    'c',
    [
      { itemId: 'x39', weight: 1, sequential: 1 },
      { itemId: 'y', weight: 2, sequential: 0 },
    ],
    0,
  );
  assert.equal(co.targetCount, 2);
  co.restoreNeighbours('c', [], 0);
  assert.equal(co.targetCount, 1);

  // Two seeds pointing at the same neighbour add into one accumulator; a later accumulation starts afresh.
  co.record('x39', ['c'], 3, 0);
  const scores = neighbourScores();
  co.accumulateNeighbours('b', 1, 0, scores);
  co.accumulateNeighbours('c', 0.5, 0, scores);
  assert.deepEqual([...scores.scores('window')], [['x39', 1 + 0.5 * 3]]);
  const next = neighbourScores();
  co.accumulateNeighbours('c', 1, 0, next);
  assert.deepEqual([...next.scores('window')], [['x39', 3]]);
  assert.throws(() => scores.scores('window'), /overwritten/);
});
