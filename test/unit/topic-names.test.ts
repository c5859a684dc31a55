import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTopics } from '../../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs } from '../../streams/app/kafka.js';
import { EDDY_SETTINGS } from '../../streams/cli/eddy-settings.js';
import { topicNamesFrom } from '../../streams/cli/kafka-settings.js';
import { parseSettings } from '../../streams/cli/settings.js';

test('existing input and output topics can be named; the changelogs keep the prefix', () => {
  const { values } = parseSettings(
    EDDY_SETTINGS,
    ['--topic-prefix', 'shop', '--clicks-topic', 'web.clickstream', '--items-topic', 'catalog.v2'],
    { EDDY_RECOMMENDATIONS_TOPIC: 'recs.out' },
  );
  const topics = topicNamesFrom(values);
  assert.equal(topics.clicks, 'web.clickstream');
  assert.equal(topics.items, 'catalog.v2');
  assert.equal(topics.recommendations, 'recs.out');
  assert.equal(topics.deadLetters, 'shop.dead-letters');
  assert.equal(topics.userChangelog, 'shop.user-state-changelog');
});

test('only the user changelog must match its input’s partitions; the catalog and the lists may be compacted', () => {
  const specs = eddyTopicSpecs(topicNamesFrom(parseSettings(EDDY_SETTINGS, [], {}).values), 4);
  const found = new Map([
    ['eddy.clicks', { partitions: 12, policy: 'delete' }],
    ['eddy.items', { partitions: 1, policy: 'compact' }],
    ['eddy.recommendations', { partitions: 3, policy: 'compact,delete' }],
    ['eddy.user-state-changelog', { partitions: 12, policy: 'compact' }],
  ]);
  const partitions = new Map(specs.map((s) => [s.name, found.get(s.name)?.partitions ?? 4]));
  assert.deepEqual(checkTopics(specs, found, partitions), []);
  partitions.set('eddy.user-state-changelog', 4);
  assert.equal(checkTopics(specs, found, partitions).length, 1);
  const compactedClicks = new Map([...found, ['eddy.clicks', { partitions: 12, policy: 'compact' }]]);
  assert.match(
    checkTopics(specs, compactedClicks, partitions).join('\n'),
    /eddy\.clicks: has cleanup\.policy=compact/,
  );
});
