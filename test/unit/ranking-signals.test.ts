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

function play(model: EddyModel, userId: string, items: readonly string[]): void {
  items.forEach((itemId, i) => {
    clock += 1000;
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
