// One item model for the whole consumer group, against a real broker: three KafkaEddy instances
// share what any of them learns about items through the item-updates topic. A pair of items
// clicked one after the other only by users of instance A's partitions must reach instance B's
// item model and B's lists; and every replica must end with the same item model. Skipped when
// KAFKA_BROKERS is unset.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { ensureTopics } from '../../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs, KafkaEddy } from '../../streams/app/kafka.js';
import { feed, feedProducer, singleObjectEncoder } from '../../streams/app/kafka-feed.js';
import type { ClickEvent } from '../../streams/model/events.js';
import { toItemStateRecord } from '../../streams/model/item-state.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import type { TopicNames } from '../../streams/pipeline/topics.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { fixedClock } from '../../streams/util/clock.js';
import { partitionForKey } from '../../streams/util/murmur2.js';
import { TEST_NOW } from '../support/embedded-run.js';
import {
  brokerList,
  deleteTopics,
  endOffsets,
  SKIP_KAFKA,
  testKafka,
  testTopics,
  uniquePrefix,
  waitForGroupCaughtUp,
} from '../support/kafka.js';

const PARTITIONS = 6;
const ITEMS = 40;
const START = TEST_NOW - 3_600_000;

describe('one item model across three instances', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  let topics: TopicNames | null = null;
  const instances: KafkaEddy[] = [];

  before(async () => {
    kafka = testKafka('eddy-it-shared-items');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    for (const eddy of instances) await eddy.stop().catch(() => {});
    if (topics) await deleteTopics(admin, topics);
    await admin.disconnect();
  });

  test('a pair seen only in A’s partitions ranks in B’s lists; all replicas converge', {
    timeout: 180_000,
  }, async () => {
    const prefix = uniquePrefix('shared-items');
    topics = testTopics(prefix);
    await ensureTopics(admin, eddyTopicSpecs(topics, PARTITIONS), { replicationFactor: 1 });
    const producer = feedProducer(kafka);
    await producer.connect();
    const encode = singleObjectEncoder(topics);
    const catalog: StreamEvent[] = Array.from({ length: ITEMS }, (_, i) => ({
      kind: 'item',
      event: {
        itemId: `i${i}`,
        op: 'upsert',
        title: `item ${i}`,
        categories: [`c${i % 4}`],
        tags: [],
        available: true,
        contentVector: null,
        updatedAt: START,
      },
    }));
    await feed(producer, catalog, { encode });

    const running: Promise<void>[] = [];
    const failures: unknown[] = [];
    const byId = new Map<string, KafkaEddy>();
    for (const id of ['a', 'b', 'c']) {
      const eddy = new KafkaEddy({
        brokers: brokerList(),
        groupId: prefix,
        instanceId: id,
        topics,
        partitions: PARTITIONS,
        replicationFactor: 1,
        model: DEFAULT_MODEL_CONFIG,
        batchSize: 20,
        lingerMs: 10,
        sessionTimeoutMs: 10_000,
        clock: fixedClock(TEST_NOW),
      });
      instances.push(eddy);
      byId.set(id, eddy);
      const run = (await eddy.start()).running;
      run.catch((e: unknown) => failures.push(e));
      running.push(run);
    }
    const [a, b, c] = [byId.get('a')!, byId.get('b')!, byId.get('c')!];
    const clicksOf = (eddy: KafkaEddy): number[] =>
      eddy.source
        .assignment()
        .filter((tp) => tp.topic === topics!.clicks)
        .map((tp) => tp.partition);
    const deadline = Date.now() + 90_000;
    while (instances.some((eddy) => clicksOf(eddy).length === 0 || !eddy.ready())) {
      if (failures.length > 0) throw failures[0];
      assert.ok(Date.now() < deadline, 'every instance gets partitions and becomes ready');
      await sleep(50);
    }
    const usersOf = (eddy: KafkaEddy, count: number, tag: string): string[] => {
      const owned = clicksOf(eddy);
      const users: string[] = [];
      for (let n = 0; users.length < count; n++) {
        const user = `${tag}-${n}`;
        if (owned.includes(partitionForKey(user, PARTITIONS))) users.push(user);
      }
      return users;
    };
    let time = START;
    const click = (userId: string, itemId: string): StreamEvent => {
      time += 1_000;
      const event: ClickEvent = {
        eventId: `e-${userId}-${itemId}-${time}`,
        userId,
        itemId,
        type: 'click',
        eventTime: time,
        sessionId: null,
        context: {},
      };
      return { kind: 'click', event };
    };
    // A's users: each clicks i1 then i2 (the pair), among other items. B's and C's users click
    // other items only, so the pair exists in A's partitions alone.
    const events: StreamEvent[] = [];
    for (const user of usersOf(a, 12, 'ua')) {
      events.push(click(user, `i${10 + (user.length % 5)}`), click(user, 'i1'), click(user, 'i2'));
    }
    for (const user of [...usersOf(b, 12, 'ub'), ...usersOf(c, 12, 'uc')]) {
      for (let k = 0; k < 4; k++) events.push(click(user, `i${3 + ((user.charCodeAt(3) + k * 7) % 30)}`));
    }
    await feed(producer, events, { encode });
    await waitForGroupCaughtUp(admin, prefix, [topics.clicks, topics.items], 90_000, () => {
      if (failures.length > 0) throw failures[0];
    });
    const updatesEnd = (await endOffsets(admin, topics.itemUpdates)).get(0) ?? 0;
    assert.ok(updatesEnd > 0, 'the instances published item increments');
    const applied = Date.now() + 30_000;
    while (instances.some((eddy) => (eddy.pipeline.context.replica?.appliedOffset ?? 0) < updatesEnd)) {
      assert.ok(Date.now() < applied, 'every replica applies the whole item-updates topic');
      await sleep(50);
    }

    // B never consumed a click of the pair, yet its item model knows it, as do A's and C's.
    for (const eddy of [a, b, c]) {
      assert.ok(eddy.model.coVisitation.weight('i1', 'i2', time) > 0, 'i1 → i2 is known everywhere');
    }
    // B's user who just clicked i1 gets i2 from co-visitation: learned in A's partitions.
    const [probe] = usersOf(b, 1, 'probe');
    await feed(producer, [click(probe!, 'i1')], { encode });
    await waitForGroupCaughtUp(admin, prefix, [topics.clicks], 60_000);
    const list = b.model.users.get(probe!)?.lastList ?? [];
    assert.ok(list.includes('i2'), `B's list for a user who clicked i1 holds i2: ${list.join(' ')}`);

    // Every replica applied the same increments in the same order: the same item model.
    const end = (await endOffsets(admin, topics.itemUpdates)).get(0) ?? 0;
    const settled = Date.now() + 30_000;
    while (instances.some((eddy) => (eddy.pipeline.context.replica?.appliedOffset ?? 0) < end)) {
      assert.ok(Date.now() < settled, 'every replica applies the probe too');
      await sleep(50);
    }
    const now = Math.max(...instances.map((eddy) => eddy.model.streamTime));
    const snapshot = (eddy: KafkaEddy): unknown[] => {
      eddy.model.streamTime = now;
      const ids = [...eddy.model.items.values()].map((item) => item.itemId).sort();
      return ids.map((id) => toItemStateRecord(eddy.model, id));
    };
    const reference = snapshot(a);
    assert.deepEqual(snapshot(b), reference, 'B holds the same item model as A');
    assert.deepEqual(snapshot(c), reference, 'C holds the same item model as A');
    assert.deepEqual(Array.from(b.model.ranking.weights), Array.from(a.model.ranking.weights));

    await producer.disconnect();
    for (const eddy of instances) await eddy.stop();
    await Promise.all(running);
  });
});
