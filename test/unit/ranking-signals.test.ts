import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExactVectorIndex } from '../../streams/adapters/memory/exact-vector-index.js';
import { MemoryStateStore } from '../../streams/adapters/memory/memory-state-store.js';
import { EddyModel } from '../../streams/model/eddy-model.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../../streams/model/model-config.js';
import { RANKING_FEATURES, type RankingFeature } from '../../streams/model/ranking-learner.js';
import type { UserPreferences } from '../../streams/model/user-preferences.js';
import { userPreferencesSerde } from '../../streams/model/user-state-serde.js';
import { Recommender } from '../../streams/recommend/recommender.js';

const T0 = Date.UTC(2026, 0, 1);

function modelWithWeights(weights: Partial<ModelConfig['ranking']['weights']>): EddyModel {
  const ranking = DEFAULT_MODEL_CONFIG.ranking;
  const zero = Object.fromEntries(RANKING_FEATURES.map((feature) => [feature, 0])) as Record<
    RankingFeature,
    number
  >;
  const config: ModelConfig = {
    ...DEFAULT_MODEL_CONFIG,
    ranking: { ...ranking, weights: { ...zero, ...weights }, diversityLambda: 1 },
  };
  const users = new MemoryStateStore<UserPreferences>({
    name: 'users',
    changelogTopic: 'users-changelog',
    serde: userPreferencesSerde,
  });
  return new EddyModel(config, users);
}

let clock = T0;

/** Clicks `items` in order, a second apart, or all at one time when `together`. */
function play(model: EddyModel, userId: string, items: readonly string[], together = false): void {
  if (together) clock += 1000;
  items.forEach((itemId, i) => {
    if (!together) clock += 1000;
    model.applyClick({
      eventId: `${userId}-${i}`,
      userId,
      itemId,
      type: 'click',
      eventTime: clock,
      sessionId: null,
      context: {},
    });
  });
}

test('the next-item signal scores what follows the last item only; the sequence signal blends earlier seeds', () => {
  const rank = (weights: Partial<ModelConfig['ranking']['weights']>): Map<string, number> => {
    const model = modelWithWeights(weights);
    // Others' sequences: w is followed by z, x by y.
    for (let u = 0; u < 5; u++) {
      play(model, `a${u}`, ['w', 'z']);
      play(model, `b${u}`, ['x', 'y']);
    }
    play(model, 'me', ['w', 'x']);
    const recommender = new Recommender(model, new ExactVectorIndex(), 'items');
    const list = recommender.rank(model.userOrNew('me'), []);
    return new Map(list.map((item) => [item.itemId, item.score]));
  };
  const next = rank({ nextItem: 1 });
  assert.equal(next.get('y'), 1);
  // z follows the second-to-last item: retrieved by trending at most, never scored by next-item.
  assert.ok((next.get('z') ?? 0) === 0);
  const sequence = rank({ sequence: 1 });
  assert.equal(sequence.get('y'), 1);
  assert.ok(sequence.get('z')! > 0 && sequence.get('z')! < 1);
});

test('co-visitation seeds clicked at the same time weigh alike; earlier ones weigh less', () => {
  const scores = (together: boolean): Map<string, number> => {
    const model = modelWithWeights({ coVisitation: 1 });
    for (let u = 0; u < 5; u++) {
      play(model, `a${u}`, ['w', 'z']);
      play(model, `b${u}`, ['x', 'y']);
    }
    play(model, 'me', ['w', 'x'], together);
    const recommender = new Recommender(model, new ExactVectorIndex(), 'items');
    return new Map(recommender.rank(model.userOrNew('me'), []).map((item) => [item.itemId, item.score]));
  };
  // One timestamp: w and x have no order, so their neighbours z and y score the same.
  const batch = scores(true);
  assert.ok(Math.abs(batch.get('y')! - 1) < 1e-6 && Math.abs(batch.get('z')! - 1) < 1e-6, `${[...batch]}`);
  // A second apart: w is one step older, so z scores seedDecay of y.
  const sequence = scores(false);
  assert.ok(Math.abs(sequence.get('y')! - 1) < 1e-6);
  assert.ok(
    Math.abs(sequence.get('z')! - DEFAULT_MODEL_CONFIG.retrieval.seedDecay) < 1e-6,
    `${[...sequence]}`,
  );
});
