import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../../streams/model/model-config.js';
import { applyInteraction, categoryScore, newUserPreferences } from '../../streams/model/user-preferences.js';
import { cosine, decayFactor, normalizeInto, scaleAndAdd, sigmoid } from '../../streams/model/vector-math.js';

const HOUR = 3_600_000;

function config(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return { ...DEFAULT_MODEL_CONFIG, dimension: 3, ...overrides };
}

function close(actual: number, expected: number, epsilon = 1e-6): void {
  assert.ok(Math.abs(actual - expected) <= epsilon, `expected ${expected}, got ${actual}`);
}

test('decay factor halves per half-life and ignores out-of-order time', () => {
  close(decayFactor(0, HOUR), 1);
  close(decayFactor(HOUR, HOUR), 0.5);
  close(decayFactor(3 * HOUR, HOUR), 0.125);
  close(decayFactor(-HOUR, HOUR), 1);
  close(decayFactor(HOUR, 0), 0);
});

test('decay composes: two steps equal one step of the summed time', () => {
  for (const [a, b] of [
    [1_000, 2_500],
    [HOUR, 7 * HOUR],
    [123, 0],
  ] as const) {
    close(decayFactor(a, HOUR) * decayFactor(b, HOUR), decayFactor(a + b, HOUR), 1e-12);
  }
});

test('vector kernels', () => {
  const a = Float32Array.of(3, 4, 0);
  close(cosine(a, Float32Array.of(6, 8, 0)), 1);
  close(cosine(a, Float32Array.of(0, 0, 1)), 0);
  close(cosine(a, new Float32Array(3)), 0);
  const n = normalizeInto(new Float32Array(3), a);
  close(n[0]!, 0.6);
  close(n[1]!, 0.8);
  const y = Float32Array.of(1, 1, 1);
  scaleAndAdd(y, 0.5, 2, Float32Array.of(1, 0, -1));
  assert.deepEqual([...y], [2.5, 0.5, -1.5]);
  close(sigmoid(0), 0.5);
  close(sigmoid(50), 1);
  close(sigmoid(-50), 0);
  assert.ok(Number.isFinite(sigmoid(-1e6)) && Number.isFinite(sigmoid(1e6)));
});

test('an interaction adds the weighted item vector after decaying the state to the event time', () => {
  const c = config({ longTermHalfLifeMs: 10 * HOUR, shortTermHalfLifeMs: HOUR });
  const user = newUserPreferences('u1', 3);
  const x = Float32Array.of(1, 0, 0);
  const y = Float32Array.of(0, 1, 0);
  applyInteraction(user, 'i1', 'click', 0, x, ['jazz'], c);
  close(user.longTerm[0]!, c.eventWeights.click);
  close(user.shortTerm[0]!, c.eventWeights.click);
  applyInteraction(user, 'i2', 'like', HOUR, y, ['rock'], c);
  // Short-term halved over its one-hour half-life; long-term decayed by 2^(-1/10).
  close(user.shortTerm[0]!, c.eventWeights.click * 0.5, 1e-5);
  close(user.longTerm[0]!, c.eventWeights.click * 2 ** -0.1, 1e-5);
  close(user.shortTerm[1]!, c.eventWeights.like, 1e-5);
  assert.equal(user.events, 2);
  assert.equal(user.positives, 2);
  assert.equal(user.lastEventTime, HOUR);
});

test('negative feedback pushes the preference away from the item', () => {
  const c = config();
  const user = newUserPreferences('u1', 3);
  const item = Float32Array.of(0, 0, 1);
  applyInteraction(user, 'i1', 'view', 0, Float32Array.of(1, 0, 0), [], c);
  applyInteraction(user, 'i2', 'dislike', 1, item, ['horror'], c);
  assert.ok(cosine(user.longTerm, item) < 0);
  assert.equal(user.negatives, 1);
  assert.ok(categoryScore(user, ['horror']) < 0);
});

test('recent, seen and category state stay bounded', () => {
  const c = config({ recentLimit: 4, seenLimit: 6, categoryLimit: 3 });
  const user = newUserPreferences('u1', 3);
  const v = Float32Array.of(1, 0, 0);
  for (let i = 0; i < 50; i++) applyInteraction(user, `i${i}`, 'view', i * 1000, v, [`c${i}`], c);
  assert.equal(user.recent.length, 4);
  assert.deepEqual(
    user.recent.map((r) => r.itemId),
    ['i46', 'i47', 'i48', 'i49'],
  );
  assert.equal(user.seen.size, 6);
  assert.ok(user.seen.has('i49') && !user.seen.has('i0'));
  assert.ok(user.categoryAffinity.size <= 3);
});

test('re-touching an item keeps it remembered when older items are forgotten', () => {
  const c = config({ seenLimit: 3 });
  const user = newUserPreferences('u1', 3);
  const v = Float32Array.of(1, 0, 0);
  for (const id of ['a', 'b', 'c', 'a', 'd']) applyInteraction(user, id, 'view', 0, v, [], c);
  assert.deepEqual([...user.seen], ['c', 'a', 'd']);
});

test('per-event cost does not grow with history length', () => {
  // The state after N events has the same size as after a handful: O(1) memory per user.
  const c = config();
  const user = newUserPreferences('u1', 3);
  const v = Float32Array.of(1, 0, 0);
  for (let i = 0; i < 10_000; i++) applyInteraction(user, `i${i}`, 'view', i, v, ['x'], c);
  assert.equal(user.recent.length, c.recentLimit);
  assert.equal(user.seen.size, c.seenLimit);
  assert.equal(user.longTerm.length, 3);
});
