// Two KafkaEddy instances in one consumer group against a real broker: partitions are shared, and
// when one instance stops mid-stream the other restores the state of its partitions from the
// changelog and carries on. Skipped when KAFKA_BROKERS is unset (see test/support/kafka.ts).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { ensureTopics } from '../../streams/adapters/kafka/topic-admin.js';
import { MemoryStateStore } from '../../streams/adapters/memory/memory-state-store.js';
import { eddyTopicSpecs, KafkaEddy } from '../../streams/app/kafka.js';
import { feed, feedProducer, singleObjectEncoder } from '../../streams/app/kafka-feed.js';
import { codecs } from '../../streams/codec/avro.js';
import { EddyModel } from '../../streams/model/eddy-model.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import { toUserStateRecord, userPreferencesSerde } from '../../streams/model/user-state-serde.js';
import { createLogger, type LogFields } from '../../streams/observe/logger.js';
import type { TopicNames } from '../../streams/pipeline/topics.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { fixedClock } from '../../streams/util/clock.js';
import { TEST_NOW } from '../support/embedded-run.js';
import {
  brokerList,
  decodeLists,
  decodeUserStates,
  deleteTopics,
  exactUserState,
  groupLag,
  latestPerKey,
  readCommitted,
  SKIP_KAFKA,
  testKafka,
  testTopics,
  uniquePrefix,
  waitForGroupCaughtUp,
} from '../support/kafka.js';

const PARTITIONS = 4;
const BATCH_SIZE = 25;

interface Logged {
  readonly msg: string;
  readonly fields: LogFields;
}

describe('two instances in one group', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  const used: TopicNames[] = [];
  /** Stopped in `after` too, so a failed assertion does not leave a consumer keeping the process alive. */
  const instances: KafkaEddy[] = [];

  before(async () => {
    kafka = testKafka('eddy-it-rebalance');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    for (const eddy of instances) await eddy.stop().catch(() => {});
    for (const topics of used) await deleteTopics(admin, topics);
    await admin.disconnect();
  });

  test('partitions are shared; state moves with its partition when an instance stops mid-stream', {
    timeout: 300_000,
  }, async () => {
    const prefix = uniquePrefix('rebalance');
    const topics = testTopics(prefix);
    used.push(topics);
    await ensureTopics(admin, eddyTopicSpecs(topics, PARTITIONS), { replicationFactor: 1 });
    const all = [
      ...syntheticStream({
        seed: 77,
        users: 160,
        items: 200,
        categories: 8,
        events: 3_000,
        contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
      }),
    ];
    // The initial catalog only (see kafka-crash.test.ts): every click sees the same categories.
    const firstClick = all.findIndex((e) => e.kind === 'click');
    const events: StreamEvent[] = all.filter((e, i) => e.kind === 'click' || i < firstClick);
    const split = firstClick + Math.floor((events.length - firstClick) * 0.5);
    const producer = feedProducer(kafka);
    await producer.connect();
    await feed(producer, events.slice(0, split), { encode: singleObjectEncoder(topics) });

    const logs = new Map<string, Logged[]>();
    const instance = (id: string): KafkaEddy => {
      const lines: Logged[] = [];
      logs.set(id, lines);
      const eddy = new KafkaEddy({
        brokers: brokerList(),
        groupId: prefix,
        instanceId: id,
        topics,
        partitions: PARTITIONS,
        replicationFactor: 1,
        model: DEFAULT_MODEL_CONFIG,
        batchSize: BATCH_SIZE,
        lingerMs: 10,
        sessionTimeoutMs: 10_000,
        clock: fixedClock(TEST_NOW),
        logger: createLogger({
          level: 'info',
          format: 'json',
          write: (line) => {
            const { msg, ...fields } = JSON.parse(line) as { msg: string };
            lines.push({ msg, fields });
          },
        }),
      });
      instances.push(eddy);
      return eddy;
    };
    const a = instance('a');
    const b = instance('b');
    const runningA = (await a.start()).running;
    const runningB = (await b.start()).running;
    const failures: unknown[] = [];
    runningA.catch((e: unknown) => failures.push(e));
    runningB.catch((e: unknown) => failures.push(e));
    const healthy = (): void => {
      if (failures.length > 0) throw failures[0];
    };

    // Both members hold clicks partitions, and between them all of them, once.
    const clicksOf = (eddy: KafkaEddy): number[] =>
      eddy.source
        .assignment()
        .filter((tp) => tp.topic === topics.clicks)
        .map((tp) => tp.partition)
        .sort();
    const deadline = Date.now() + 60_000;
    while (clicksOf(a).length === 0 || clicksOf(b).length === 0 || !a.ready() || !b.ready()) {
      healthy();
      assert.ok(Date.now() < deadline, 'both instances get partitions and become ready');
      await sleep(50);
    }
    const [ofA, ofB] = [clicksOf(a), clicksOf(b)];
    assert.deepEqual(
      [...ofA, ...ofB].sort(),
      Array.from({ length: PARTITIONS }, (_, p) => p),
      `partitions shared: a ${ofA}, b ${ofB}`,
    );
    await waitForGroupCaughtUp(admin, prefix, [topics.clicks, topics.items], 120_000, healthy);

    // Mid-stream: the second half arrives while b stops; a takes over b's partitions.
    const feeding = feed(producer, events.slice(split), { encode: singleObjectEncoder(topics), rate: 1_000 });
    await sleep(700);
    await b.stop();
    await runningB;
    await feeding;
    await producer.disconnect();
    await waitForGroupCaughtUp(admin, prefix, [topics.clicks, topics.items], 120_000, healthy);
    assert.deepEqual(
      clicksOf(a),
      Array.from({ length: PARTITIONS }, (_, p) => p),
      'a owns every partition',
    );

    // a restored b's users from the changelog before processing b's partitions: its in-memory
    // state of every user counts all of that user's clicks, including those only b ever saw.
    const takeover = logs
      .get('a')!
      .filter((l) => l.msg === 'user state restored for assigned partitions' && Number(l.fields.users) > 0);
    assert.ok(takeover.length > 0, 'a restored user state when it took b’s partitions over');
    const clicks = events.flatMap((e) => (e.kind === 'click' ? [e.event] : []));
    const perUser = new Map<string, number>();
    for (const c of clicks) perUser.set(c.userId, (perUser.get(c.userId) ?? 0) + 1);
    for (const [userId, count] of perUser)
      assert.equal(a.users.get(userId)?.events, count, `${userId} in a's memory`);
    await a.stop();
    await runningA;
    healthy();
    assert.equal(await groupLag(admin, prefix, [topics.clicks, topics.items]), 0);

    // No loss, no duplication in the output.
    const byEventId = new Map<string, { partition: number; offset: number }>();
    for (const r of await readCommitted(kafka, admin, topics.clicks)) {
      byEventId.set(codecs.clickEvent.decode(r.value ?? new Uint8Array(0)).eventId, r);
    }
    const lists = decodeLists(await readCommitted(kafka, admin, topics.recommendations));
    assert.equal(new Set(lists.map((l) => l.listId)).size, lists.length, 'list ids unique');
    const answered = new Map<string, number[]>();
    for (const list of lists) {
      const trigger = byEventId.get(list.triggeringEventId);
      assert.ok(trigger, `${list.listId} answers an input click`);
      const key = `${trigger.partition}/${list.userId}`;
      answered.set(key, [...(answered.get(key) ?? []), trigger.offset]);
    }
    for (const c of clicks) {
      const r = byEventId.get(c.eventId)!;
      assert.ok(
        (answered.get(`${r.partition}/${c.userId}`) ?? []).some(
          (o) => o >= r.offset && o - r.offset < BATCH_SIZE,
        ),
        `click ${c.eventId} answered`,
      );
    }

    // The changelog equals a single in-order replay of every user's clicks, field by exact field.
    const replay = new EddyModel(
      DEFAULT_MODEL_CONFIG,
      new MemoryStateStore({ name: 'replay', changelogTopic: 'replay', serde: userPreferencesSerde }),
    );
    for (const e of events) {
      if (e.kind === 'item') replay.applyItem(e.event);
      else replay.applyClick(e.event);
    }
    const states = decodeUserStates(latestPerKey(await readCommitted(kafka, admin, topics.userChangelog)));
    assert.equal(states.size, perUser.size);
    for (const [userId, user] of replay.users.entries()) {
      const state = states.get(userId);
      assert.ok(state, `${userId} in the changelog`);
      // Through the codec, as the changelog was: floats are stored as Avro floats.
      const expected = codecs.userState.decode(codecs.userState.encode(toUserStateRecord(user)));
      assert.deepEqual(exactUserState(state), exactUserState(expected), userId);
    }
  });
});
