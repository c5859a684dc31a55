// Consumer-group liveness against a real broker: a pipeline whose batches each take longer than
// the session timeout keeps its group membership (it heartbeats while a batch is in flight), is
// never rebalanced, and commits everything. Skipped when KAFKA_BROKERS is unset.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { ensureTopics } from '../../streams/adapters/kafka/topic-admin.js';
import { ExactVectorIndex } from '../../streams/adapters/memory/exact-vector-index.js';
import { eddyTopicSpecs, KafkaEddy } from '../../streams/app/kafka.js';
import { feed, feedProducer, singleObjectEncoder } from '../../streams/app/kafka-feed.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import { createLogger } from '../../streams/observe/logger.js';
import type { TopicNames } from '../../streams/pipeline/topics.js';
import type { VectorQuery } from '../../streams/ports/vector-store.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { fixedClock } from '../../streams/util/clock.js';
import { TEST_NOW } from '../support/embedded-run.js';
import {
  brokerList,
  deleteTopics,
  groupLag,
  SKIP_KAFKA,
  testKafka,
  testTopics,
  uniquePrefix,
  waitForGroupCaughtUp,
} from '../support/kafka.js';

/** The broker's minimum session timeout (group.min.session.timeout.ms). */
const SESSION_TIMEOUT_MS = 6_000;
/** Each slow batch outlasts the session timeout by half. */
const SLOW_BATCH_MS = 9_000;
const SLOW_BATCHES = 3;

/** The in-process index, with its first few queries (one per batch with lists) held up. */
class SlowIndex extends ExactVectorIndex {
  slowed = 0;

  override async queryBatch(collection: string, queries: readonly VectorQuery[]) {
    if (this.slowed < SLOW_BATCHES) {
      this.slowed++;
      await sleep(SLOW_BATCH_MS);
    }
    return super.queryBatch(collection, queries);
  }
}

describe('consumer-group liveness under slow batches', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  let topics: TopicNames | null = null;

  before(async () => {
    kafka = testKafka('eddy-it-liveness');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    if (topics) await deleteTopics(admin, topics);
    await admin.disconnect();
  });

  test('batches longer than the session timeout: membership kept, no rebalance, everything committed', {
    timeout: 180_000,
  }, async () => {
    const prefix = uniquePrefix('liveness');
    topics = testTopics(prefix);
    await ensureTopics(admin, eddyTopicSpecs(topics, 2), { replicationFactor: 1 });
    const events = [
      ...syntheticStream({
        seed: 9,
        users: 40,
        items: 60,
        categories: 4,
        events: 400,
        contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
      }),
    ];
    const producer = feedProducer(kafka);
    await producer.connect();
    await feed(producer, events, { encode: singleObjectEncoder(topics) });
    await producer.disconnect();

    const logged: { msg: string }[] = [];
    const vectorStore = new SlowIndex();
    const eddy = new KafkaEddy({
      brokers: brokerList(),
      groupId: prefix,
      instanceId: 'slow',
      topics,
      partitions: 2,
      replicationFactor: 1,
      model: DEFAULT_MODEL_CONFIG,
      batchSize: 50,
      lingerMs: 10,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      vectorStore,
      clock: fixedClock(TEST_NOW),
      logger: createLogger({
        level: 'info',
        format: 'json',
        write: (line) => logged.push(JSON.parse(line) as { msg: string }),
      }),
    });
    const { running } = await eddy.start();
    let failed: unknown = null;
    running.catch((error: unknown) => {
      failed = error;
    });
    try {
      await waitForGroupCaughtUp(admin, prefix, [topics.clicks, topics.items], 150_000, () => {
        if (failed !== null) throw failed;
      });
    } finally {
      await eddy.stop();
      await running;
    }
    assert.equal(vectorStore.slowed, SLOW_BATCHES, 'the slow batches happened');
    assert.equal(await groupLag(admin, prefix, [topics.clicks, topics.items]), 0, 'everything committed');
    const assignments = logged.filter((l) => l.msg === 'kafka partitions assigned');
    assert.equal(assignments.length, 1, 'one assignment: the group never rebalanced away from the instance');
    assert.equal(
      logged.filter((l) => l.msg === 'state dropped for revoked partitions').length,
      0,
      'no partition was revoked while the instance ran',
    );
  });
});
