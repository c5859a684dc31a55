import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStateStore } from '../../streams/adapters/memory/memory-state-store.js';
import { EddyModel } from '../../streams/model/eddy-model.js';
import { toItemStateRecord } from '../../streams/model/item-state.js';
import { RANKING_FEATURES } from '../../streams/model/ranking-learner.js';
import type { UserPreferences } from '../../streams/model/user-preferences.js';
import { toUserStateRecord, userPreferencesSerde } from '../../streams/model/user-state-serde.js';
import { restoreModel } from '../../streams/pipeline/restore.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { modelWith, runPrefed, testOptions } from '../support/embedded-run.js';

const STREAM = { seed: 11, users: 400, items: 600, categories: 12, events: 30_000 } as const;
const defaults = modelWith({});

test('the real pipeline learns: live hit rate after warm-up clearly beats popularity-only on the same stream', async () => {
  const eddy = await runPrefed(syntheticStream(STREAM), testOptions());
  const popularityOnly = await runPrefed(
    syntheticStream(STREAM),
    testOptions({
      model: modelWith({
        ranking: {
          ...defaults.ranking,
          weights: {
            longTerm: 0,
            shortTerm: 0,
            coVisitation: 0,
            sequence: 0,
            nextItem: 0,
            sessionKnn: 0,
            category: 0,
            popularity: 1,
          },
          diversityLambda: 1,
        },
      }),
    }),
  );
  // The recent window covers the last 10,000 evaluations: well past warm-up.
  const learned = eddy.stats.quality.snapshot();
  const baseline = popularityOnly.stats.quality.snapshot();
  console.log(
    `live HR@10 after warm-up: eddy ${learned.recentHitRate.toFixed(3)} vs popularity ${baseline.recentHitRate.toFixed(3)}; ` +
      `NDCG@10 ${learned.recentNdcg.toFixed(3)} vs ${baseline.recentNdcg.toFixed(3)}`,
  );
  assert.ok(learned.evaluated > 10_000 && baseline.evaluated > 10_000);
  assert.ok(
    learned.recentHitRate > 1.5 * baseline.recentHitRate,
    `eddy ${learned.recentHitRate} should be well above popularity ${baseline.recentHitRate}`,
  );
  assert.ok(learned.recentNdcg > baseline.recentNdcg);
});

test('user and item state restored from the changelogs equal the live state', async () => {
  const eddy = await runPrefed(syntheticStream({ ...STREAM, events: 5_000 }), testOptions());
  const restored = new EddyModel(
    eddy.model.config,
    new MemoryStateStore<UserPreferences>({
      name: 'restored',
      changelogTopic: eddy.topics.userChangelog,
      serde: userPreferencesSerde,
    }),
  );
  const report = await restoreModel(restored, eddy.log, eddy.topics, eddy.groupId);
  assert.ok(report.records > 0);
  assert.equal(restored.users.size, eddy.users.size);
  for (const [userId, live] of eddy.users.entries()) {
    const back = restored.users.get(userId);
    assert.ok(back, `user ${userId} restored`);
    assert.deepEqual(toUserStateRecord(back), toUserStateRecord(live));
  }
  // The run ends with a final item checkpoint, so the restored item model is the live one.
  assert.equal(restored.items.size, eddy.model.items.size);
  for (const live of eddy.model.items.values()) {
    assert.deepEqual(toItemStateRecord(restored, live.itemId), toItemStateRecord(eddy.model, live.itemId));
  }
  assert.equal(restored.streamTime, eddy.model.streamTime);
  // The ranking weights moved from the configured prior, and the restore brings back the learned ones.
  assert.ok(eddy.model.ranking.updates > 0);
  const configured = RANKING_FEATURES.map((feature) => eddy.model.config.ranking.weights[feature]);
  assert.notDeepEqual(Array.from(eddy.model.ranking.weights), configured);
  assert.deepEqual(restored.ranking.toRecord(), eddy.model.ranking.toRecord());
  // The session-kNN index came back with it: the same sessions, and every item's votes alike.
  assert.ok(eddy.model.sessions.size > 0);
  assert.equal(report.sessions, eddy.model.sessions.size);
  assert.deepEqual(restored.sessions.header(), eddy.model.sessions.header());
  const now = eddy.model.streamTime;
  const votes = (model: EddyModel, itemId: string) => {
    const scores = model.sessions.score(null, [itemId], now);
    return Array.from({ length: scores.count }, (_, i) => `${scores.items[i]}:${scores.values[i]}`).sort();
  };
  for (const live of eddy.model.items.values()) {
    assert.deepEqual(votes(restored, live.itemId), votes(eddy.model, live.itemId), live.itemId);
  }
});
