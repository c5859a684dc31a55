import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { EventType } from '../../streams/model/events.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../../streams/model/model-config.js';
import {
  CONTEXT_COUNT,
  CONTEXT_NAMES,
  FEATURE_COUNT,
  RANKING_FEATURES,
  RANKING_STEP_LENGTH,
  type RankingFeature,
  RankingLearner,
  rankingContext,
  writeFeatureRow,
} from '../../streams/model/ranking-learner.js';
import { newUserPreferences } from '../../streams/model/user-preferences.js';
import { Random } from '../../streams/util/random.js';

/** Learns a pick and applies the step at once, as a model replica alone does. */
function learnAndApply(learner: RankingLearner, userId: string, itemId: string): boolean {
  const step = new Float64Array(RANKING_STEP_LENGTH);
  const context = learner.learn(userId, itemId, step);
  if (context >= 0) learner.applyStep(step, context);
  return context >= 0;
}

function configWith(
  learning: Partial<ModelConfig['ranking']['learning']>,
  weights: Partial<ModelConfig['ranking']['weights']> = {},
): ModelConfig {
  const ranking = DEFAULT_MODEL_CONFIG.ranking;
  return {
    ...DEFAULT_MODEL_CONFIG,
    ranking: {
      ...ranking,
      weights: { ...ranking.weights, ...weights },
      learning: { ...ranking.learning, ...learning },
    },
  };
}

const column = (feature: RankingFeature): number => RANKING_FEATURES.indexOf(feature);

/** A pool of `size` items with uniform random features in [0, 1); row `picked` gets `pickedRow`. */
function pool(
  random: Random,
  size: number,
  picked: number,
  pickedRow?: Partial<Record<RankingFeature, number>>,
): { ids: string[]; features: Float32Array } {
  const ids = Array.from({ length: size }, (_, i) => `i${i}`);
  const features = new Float32Array(size * FEATURE_COUNT);
  for (let i = 0; i < features.length; i++) features[i] = random.next();
  for (const [feature, value] of Object.entries(pickedRow ?? {})) {
    features[picked * FEATURE_COUNT + column(feature as RankingFeature)] = value;
  }
  return { ids, features };
}

describe('RankingLearner', () => {
  test('a hard negative is drawn from the best-ranked candidates other than the pick', () => {
    // Pool: the pick p, the candidate the weights rank first (t), and twenty they rank below both.
    const ids = ['p', 't', ...Array.from({ length: 20 }, (_, i) => `low${i}`)];
    const features = new Float32Array(ids.length * FEATURE_COUNT);
    features[0 * FEATURE_COUNT + column('coVisitation')] = 0.5;
    features[1 * FEATURE_COUNT + column('coVisitation')] = 1;
    const hard = new RankingLearner(configWith({ negatives: 1, hardNegatives: 1, hardNegativeTop: 1 }));
    hard.remember('u', ids, features);
    const hardStep = new Float64Array(RANKING_STEP_LENGTH);
    assert.equal(hard.learn('u', 'p', hardStep), 0);
    // The same pick against t alone: a pool of two leaves the uniform draw no other choice.
    const versusTop = new RankingLearner(configWith({ negatives: 1, hardNegatives: 0 }));
    versusTop.remember('u', ids.slice(0, 2), features.slice(0, 2 * FEATURE_COUNT));
    const topStep = new Float64Array(RANKING_STEP_LENGTH);
    versusTop.learn('u', 'p', topStep);
    assert.deepEqual(Array.from(hardStep), Array.from(topStep));
    assert.ok(
      hardStep[column('coVisitation')]! < 0,
      't outranked the pick on co-visitation: its weight drops',
    );
  });

  test('raises the weight of the signal that tells picks apart above the others', () => {
    const learner = new RankingLearner(configWith({ rate: 0.05, regularization: 0.001 }));
    const before = Array.from(learner.weights);
    const random = new Random(1);
    for (let n = 0; n < 2000; n++) {
      const picked = random.int(50);
      const { ids, features } = pool(random, 50, picked, { category: 1 });
      learner.remember('u', ids, features);
      assert.equal(learnAndApply(learner, 'u', ids[picked]!), true);
    }
    const k = column('category');
    assert.ok(learner.weights[k]! > before[k]! + 1, `category ${before[k]} → ${learner.weights[k]}`);
    // Signals that do not separate picks from the pool only add noise to the margin: they shrink
    // towards 0, and end far below the one that does.
    for (const feature of RANKING_FEATURES) {
      if (feature === 'category') continue;
      const j = column(feature);
      assert.ok(
        Math.abs(learner.weights[j]!) < learner.weights[k]! / 3,
        `${feature} ${before[j]} → ${learner.weights[j]} vs category ${learner.weights[k]}`,
      );
    }
    assert.equal(learner.updates, 2000);
  });

  test('learns per context: a signal that tells picks apart in one context only gains weight there', () => {
    const learner = new RankingLearner(configWith({ rate: 0.05, regularization: 0.001 }));
    const random = new Random(11);
    const k = column('sessionKnn');
    for (let n = 0; n < 3000; n++) {
      // In context 2, picks have the highest session-kNN score; in context 7 it is noise.
      const context = n % 2 === 0 ? 2 : 7;
      const picked = random.int(30);
      const { ids, features } = pool(random, 30, picked, context === 2 ? { sessionKnn: 1 } : {});
      learner.remember('u', ids, features, context);
      assert.equal(learnAndApply(learner, 'u', ids[picked]!), true);
    }
    const informative = learner.weightsIn(2)[k]!;
    const noise = learner.weightsIn(7)[k]!;
    assert.ok(informative > noise + 1, `context 2: ${informative}, context 7: ${noise}`);
    // A context never seen ranks with the shared weights.
    assert.deepEqual(Array.from(learner.weightsIn(0)), Array.from(learner.weights));
    assert.throws(() => learner.weightsIn(CONTEXT_COUNT), RangeError);
  });

  test('contextRate 0 learns one set of weights for every context', () => {
    const learner = new RankingLearner(configWith({ rate: 0.05, contextRate: 0 }));
    const random = new Random(12);
    for (let n = 0; n < 200; n++) {
      const { ids, features } = pool(random, 20, 3, { category: 1 });
      learner.remember('u', ids, features, n % CONTEXT_COUNT);
      learnAndApply(learner, 'u', 'i3');
    }
    assert.ok(learner.contextOffsets.every((offset) => offset === 0));
  });

  test('the ranking context: the session’s length up to a gap, and history before it', () => {
    const config = configWith({ sessionGapMs: 30 * 60_000 });
    const user = newUserPreferences('u', config.dimension);
    const at = (minutes: number, type: EventType = 'click') => {
      user.recent.push({ itemId: `i${user.recent.length}`, type, time: minutes * 60_000 });
      user.events++;
    };
    assert.equal(rankingContext(user, config), 0);
    at(0);
    assert.equal(rankingContext(user, config), 1);
    at(10);
    assert.equal(rankingContext(user, config), 2);
    at(20);
    at(25);
    assert.equal(rankingContext(user, config), 3);
    at(29);
    at(30);
    assert.equal(rankingContext(user, config), 4);
    // Two hours later: a session of one, with history before it.
    at(150);
    assert.equal(rankingContext(user, config), 5 + 1);
    at(160);
    assert.equal(rankingContext(user, config), 5 + 2);
    assert.equal(CONTEXT_NAMES[rankingContext(user, config)], 'returning:2');
    assert.equal(CONTEXT_NAMES.length, CONTEXT_COUNT);
  });

  test('a signal configured at 0 stays off, however informative', () => {
    const learner = new RankingLearner(configWith({ rate: 0.05 }, { category: 0 }));
    const random = new Random(2);
    for (let n = 0; n < 200; n++) {
      const { ids, features } = pool(random, 20, 3, { category: 1 });
      learner.remember('u', ids, features);
      learnAndApply(learner, 'u', 'i3');
    }
    assert.equal(learner.weight('category'), 0);
  });

  test('learns each pool once, and not from a pick outside it', () => {
    const learner = new RankingLearner(configWith({ rate: 0.05 }));
    const { ids, features } = pool(new Random(3), 10, 0);
    const prior = Array.from(learner.weights);
    learner.remember('u', ids, features);
    assert.equal(learnAndApply(learner, 'u', 'not-in-the-pool'), false);
    assert.deepEqual(Array.from(learner.weights), prior);
    // The pool was consumed by that pick: the next one has nothing to learn against.
    assert.equal(learnAndApply(learner, 'u', 'i1'), false);
    assert.equal(learnAndApply(learner, 'nobody', 'i1'), false);
    assert.equal(learner.updates, 0);
  });

  test('keeps pools for the most recently ranked users only', () => {
    const learner = new RankingLearner(configWith({ rate: 0.05, pendingUsers: 3 }));
    const { ids, features } = pool(new Random(4), 5, 0);
    for (const user of ['a', 'b', 'c', 'd']) learner.remember(user, ids, features);
    assert.equal(learner.pendingPools, 3);
    assert.equal(learnAndApply(learner, 'a', 'i0'), false);
    assert.equal(learnAndApply(learner, 'd', 'i0'), true);
  });

  test('learning off keeps the configured weights and no pools', () => {
    const config = configWith({ rate: 0 });
    const learner = new RankingLearner(config);
    const { ids, features } = pool(new Random(5), 5, 0);
    learner.remember('u', ids, features);
    assert.equal(learner.pendingPools, 0);
    assert.equal(learnAndApply(learner, 'u', 'i0'), false);
    assert.deepEqual(
      Array.from(learner.weights),
      RANKING_FEATURES.map((f) => config.ranking.weights[f]),
    );
  });

  test('rejects a pool whose feature matrix does not match its ids', () => {
    const learner = new RankingLearner(configWith({ rate: 0.05 }));
    assert.throws(() => learner.remember('u', ['a', 'b'], new Float32Array(FEATURE_COUNT)), RangeError);
  });

  test('restores by feature name: unknown names ignored, missing ones and ablated ones keep the prior', () => {
    const learner = new RankingLearner(configWith({ rate: 0.05 }, { popularity: 0 }));
    learner.restore({
      features: ['coVisitation', 'popularity', 'fromTheFuture'],
      weights: [3.5, 9, 7],
      updates: 42,
    });
    assert.equal(learner.weight('coVisitation'), 3.5);
    assert.equal(learner.weight('popularity'), 0);
    assert.equal(learner.weight('sequence'), DEFAULT_MODEL_CONFIG.ranking.weights.sequence);
    assert.equal(learner.updates, 42);
    const copy = new RankingLearner(configWith({ rate: 0.05 }, { popularity: 0 }));
    copy.restore(learner.toRecord());
    assert.deepEqual(copy.toRecord(), learner.toRecord());
  });

  test('property: weights stay finite and switched-off signals stay 0, whatever the pools and picks', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            size: fc.integer({ min: 1, max: 30 }),
            picked: fc.nat(40),
            values: fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), {
              minLength: 30 * FEATURE_COUNT,
              maxLength: 30 * FEATURE_COUNT,
            }),
          }),
          { maxLength: 40 },
        ),
        fc.constantFrom(...RANKING_FEATURES),
        fc.double({ min: 1e-4, max: 1, noNaN: true }),
        (steps, off, rate) => {
          const learner = new RankingLearner(configWith({ rate }, { [off]: 0 }));
          for (const { size, picked, values } of steps) {
            const ids = Array.from({ length: size }, (_, i) => `i${i}`);
            learner.remember('u', ids, Float32Array.from(values.slice(0, size * FEATURE_COUNT)));
            const learned = learnAndApply(learner, 'u', `i${picked}`);
            assert.equal(learned, picked < size && size > 1);
          }
          for (const w of learner.weights) assert.ok(Number.isFinite(w));
          assert.equal(learner.weight(off), 0);
        },
      ),
    );
  });
});

test('a pool row is written in RANKING_FEATURES order, the order the learner reads', () => {
  const features = Object.fromEntries(RANKING_FEATURES.map((name, k) => [name, k + 1])) as Record<
    RankingFeature,
    number
  >;
  const rows = new Float32Array(FEATURE_COUNT + 2);
  writeFeatureRow(rows, 1, features);
  assert.deepStrictEqual([...rows], [0, ...RANKING_FEATURES.map((_, k) => k + 1), 0]);
});
