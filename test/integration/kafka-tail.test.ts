// `eddy tail` against a real broker: it prints the committed lists of the recommendations topic
// readably or as JSON, with catalog titles, filtered by user, in either wire format. Skipped when
// KAFKA_BROKERS is unset (see test/support/kafka.ts).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Admin, Kafka } from 'kafkajs';
import { registerSchema } from '../../streams/adapters/kafka/schema-registry.js';
import { ensureTopics } from '../../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs } from '../../streams/app/kafka.js';
import { feedProducer } from '../../streams/app/kafka-feed.js';
import { codecs, schemaDocument } from '../../streams/codec/avro.js';
import type { ItemEvent, RecommendationList } from '../../streams/model/events.js';
import type { TopicNames } from '../../streams/pipeline/topics.js';
import { killAll, runEddy } from '../support/cli.js';
import { type FakeRegistry, startFakeRegistry } from '../support/fake-registry.js';
import { BROKERS, deleteTopics, SKIP_KAFKA, testKafka, testTopics, uniquePrefix } from '../support/kafka.js';

const NOW = Date.now();

function item(itemId: string, title: string): ItemEvent {
  return {
    itemId,
    op: 'upsert',
    title,
    categories: ['c'],
    tags: [],
    available: true,
    contentVector: null,
    updatedAt: NOW - 60_000,
  };
}

function list(userId: string, n: number): RecommendationList {
  return {
    userId,
    listId: `clicks-0-${n}`,
    triggeringEventId: `e-${n}`,
    generatedAt: NOW - 1_000,
    modelVersion: 'eddy/test',
    items: [
      { itemId: 'i1', score: 2.5, rank: 1, source: 'co_visitation' },
      { itemId: 'i2', score: 3.25, rank: 2, source: 'long_term' },
    ],
  };
}

describe('eddy tail (real broker)', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  let registry: FakeRegistry;
  const used: TopicNames[] = [];

  before(async () => {
    kafka = testKafka('eddy-it-tail');
    admin = kafka.admin();
    await admin.connect();
    registry = await startFakeRegistry();
  });

  after(async () => {
    await killAll();
    for (const topics of used) await deleteTopics(admin, topics);
    await admin.disconnect();
    await registry.close();
  });

  async function produce(
    prefix: string,
    encodeItem: (e: ItemEvent) => Uint8Array,
    encodeList: (l: RecommendationList) => Uint8Array,
  ): Promise<TopicNames> {
    const topics = testTopics(prefix);
    used.push(topics);
    await ensureTopics(admin, eddyTopicSpecs(topics, 2), { replicationFactor: 1 });
    const producer = feedProducer(kafka);
    await producer.connect();
    await producer.send({
      topic: topics.items,
      acks: -1,
      messages: [item('i1', 'The Quiet Letter'), item('i2', 'Paper Echo')].map((e) => ({
        key: e.itemId,
        value: Buffer.from(encodeItem(e)),
      })),
    });
    await producer.send({
      topic: topics.recommendations,
      acks: -1,
      messages: ['u1', 'u2', 'u3', 'u2'].map((userId, n) => ({
        key: userId,
        value: Buffer.from(encodeList(list(userId, n))),
      })),
    });
    await producer.disconnect();
    return topics;
  }

  const tailArgs = (prefix: string, ...more: string[]): string[] => [
    'tail',
    '--kafka-brokers',
    BROKERS,
    '--topic-prefix',
    prefix,
    '--from-beginning',
    ...more,
  ];

  test('prints lists readably and as JSON, with titles and ages, and filters by user', {
    timeout: 120_000,
  }, async () => {
    const prefix = uniquePrefix('tail');
    await produce(
      prefix,
      (e) => codecs.itemEvent.encode(e),
      (l) => codecs.recommendationList.encode(l),
    );

    const json = await runEddy(tailArgs(prefix, '--json', '--max', '4'), { timeoutMs: 60_000 });
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { userId: string; ageMs: number; items: { title: string; rank: number }[] },
      );
    assert.equal(lines.length, 4);
    assert.deepEqual(lines.map((l) => l.userId).sort(), ['u1', 'u2', 'u2', 'u3']);
    for (const l of lines) {
      assert.deepEqual(
        l.items.map((i) => [i.rank, i.title]),
        [
          [1, 'The Quiet Letter'],
          [2, 'Paper Echo'],
        ],
      );
      assert.ok(l.ageMs >= 1_000, `age ${l.ageMs}`);
    }

    const onlyU2 = await runEddy(tailArgs(prefix, '--json', '--user', 'u2', '--max', '2'), {
      timeoutMs: 60_000,
    });
    assert.equal(onlyU2.code, 0, onlyU2.stderr);
    const u2 = onlyU2.stdout.trim().split('\n');
    assert.equal(u2.length, 2);
    for (const l of u2) assert.equal((JSON.parse(l) as { userId: string }).userId, 'u2');

    const text = await runEddy(tailArgs(prefix, '--user', 'u3', '--max', '1'), { timeoutMs: 60_000 });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /user u3 {2}2 items {2}age \d/);
    assert.match(text.stdout, /^ {4}1\. The Quiet Letter \(i1\) {2}score 2\.500 {2}co_visitation$/m);
    assert.match(text.stdout, /^ {4}2\. Paper Echo \(i2\) {2}score 3\.250 {2}long_term$/m);
  });

  test('reads the Confluent wire format with a schema registry', { timeout: 120_000 }, async () => {
    const prefix = uniquePrefix('tail-registry');
    const client = new SchemaRegistry({ host: registry.url });
    const topics = testTopics(prefix);
    const itemId = await registerSchema(
      client,
      `${topics.items}-value`,
      schemaDocument('ItemEvent'),
      registry.url,
    );
    const listId = await registerSchema(
      client,
      `${topics.recommendations}-value`,
      schemaDocument('RecommendationList'),
      registry.url,
    );
    await produce(
      prefix,
      (e) => codecs.itemEvent.encodeConfluent(itemId, e),
      (l) => codecs.recommendationList.encodeConfluent(listId, l),
    );
    const run = await runEddy(
      tailArgs(prefix, '--json', '--max', '4', '--schema-registry-url', registry.url),
      {
        timeoutMs: 60_000,
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 4);
    const first = JSON.parse(lines[0]!) as { items: { title: string }[] };
    assert.equal(first.items[0]?.title, 'The Quiet Letter');
  });
});
