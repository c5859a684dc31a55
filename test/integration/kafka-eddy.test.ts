// KafkaEddy in process against a real broker: round trip, poison records, the Confluent wire format.
// Skipped when KAFKA_BROKERS is unset (see test/support/kafka.ts).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Schema as AvroSchema } from 'avsc';
import { type Admin, type Kafka, Partitioners } from 'kafkajs';
import { ensureTopics } from '../../streams/adapters/kafka/topic-admin.js';
import {
  eddyTopicSpecs,
  KafkaEddy,
  type KafkaEddyOptions,
  type KafkaStartReport,
} from '../../streams/app/kafka.js';
import { feed, feedProducer, registryEncoder, singleObjectEncoder } from '../../streams/app/kafka-feed.js';
import { codecs, parseSchema, SCHEMA_HISTORY_DIR, SCHEMAS_DIR } from '../../streams/codec/avro.js';
import type { DeadLetterReason } from '../../streams/errors.js';
import type { ClickEvent, ItemEvent, RecommendationList } from '../../streams/model/events.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import { DEAD_LETTER_HEADERS, type TopicNames } from '../../streams/pipeline/topics.js';
import type { SourceRecord } from '../../streams/ports/event-log.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { fixedClock } from '../../streams/util/clock.js';
import { Random } from '../../streams/util/random.js';
import { TEST_NOW } from '../support/embedded-run.js';
import { type FakeRegistry, startFakeRegistry } from '../support/fake-registry.js';
import {
  brokerList,
  decodeLists,
  decodeUserStates,
  deleteTopics,
  latestPerKey,
  readCommitted,
  SKIP_KAFKA,
  testKafka,
  testTopics,
  uniquePrefix,
  waitForGroupCaughtUp,
} from '../support/kafka.js';

const TEST_TIMEOUT_MS = 240_000;
const CATCH_UP_MS = 120_000;
const PARTITIONS = 3;
const BATCH_SIZE = 50;
const DIMENSION = DEFAULT_MODEL_CONFIG.dimension;

function eddyOptions(prefix: string, overrides: Partial<KafkaEddyOptions> = {}): KafkaEddyOptions {
  return {
    brokers: brokerList(),
    groupId: prefix,
    instanceId: 'it',
    topics: testTopics(prefix),
    partitions: PARTITIONS,
    replicationFactor: 1,
    model: DEFAULT_MODEL_CONFIG,
    batchSize: BATCH_SIZE,
    lingerMs: 10,
    clock: fixedClock(TEST_NOW),
    ...overrides,
  };
}

/** Input: a small catalog with content vectors, then clicks. */
function input(seed: number, events: number): StreamEvent[] {
  return [
    ...syntheticStream({
      seed,
      users: 100,
      items: 150,
      categories: 8,
      events,
      contentVectorDimension: DIMENSION,
    }),
  ];
}

/** Runs Eddy over what is already in its input topics until the group has committed all of it. */
async function runOver(
  admin: Admin,
  options: KafkaEddyOptions,
  onStarted?: (report: KafkaStartReport) => void,
): Promise<KafkaEddy> {
  const eddy = new KafkaEddy(options);
  const { running, report } = await eddy.start();
  onStarted?.(report);
  let failed: unknown = null;
  running.catch((error: unknown) => {
    failed = error;
  });
  const topics = eddy.topics;
  try {
    await waitForGroupCaughtUp(admin, options.groupId, [topics.clicks, topics.items], CATCH_UP_MS, () => {
      if (failed !== null) throw failed;
    });
  } finally {
    await eddy.stop();
    await running;
  }
  return eddy;
}

interface InputClick {
  readonly event: ClickEvent;
  readonly record: SourceRecord;
}

async function readClicks(kafka: Kafka, admin: Admin, topics: TopicNames): Promise<InputClick[]> {
  const out: InputClick[] = [];
  for (const record of await readCommitted(kafka, admin, topics.clicks)) {
    try {
      out.push({ event: codecs.clickEvent.decode(record.value ?? new Uint8Array(0)), record });
    } catch {
      // A poison record: checked against the dead-letter topic instead.
    }
  }
  return out;
}

/**
 * The invariants of Eddy's output over a set of good clicks: every list answers a real click of its
 * user at the position its id names; ids are unique; every click is answered by a list for the same
 * click or a later one of its user in the same batch window (coalescing); seen items are excluded.
 */
function checkLists(
  lists: readonly RecommendationList[],
  clicks: readonly InputClick[],
  topics: TopicNames,
): void {
  const byEventId = new Map(clicks.map((c) => [c.event.eventId, c]));
  const ids = new Set<string>();
  for (const list of lists) {
    assert.ok(
      codecs.recommendationList.type.isValid(list),
      `list ${list.listId} is a valid RecommendationList`,
    );
    assert.ok(!ids.has(list.listId), `list id ${list.listId} appears once`);
    ids.add(list.listId);
    const trigger = byEventId.get(list.triggeringEventId);
    assert.ok(trigger, `list ${list.listId}: triggering event ${list.triggeringEventId} is an input click`);
    assert.equal(list.userId, trigger.event.userId);
    assert.equal(list.listId, `${topics.clicks}-${trigger.record.partition}-${trigger.record.offset}`);
    assert.ok(list.items.length > 0 && list.items.length <= DEFAULT_MODEL_CONFIG.ranking.listSize);
    assert.equal(new Set(list.items.map((i) => i.itemId)).size, list.items.length, 'no item twice in a list');
  }
  // Per user, in offset order (one user's clicks share a partition).
  const byUser = new Map<string, InputClick[]>();
  for (const c of clicks) byUser.set(c.event.userId, [...(byUser.get(c.event.userId) ?? []), c]);
  const triggered = new Set(lists.map((l) => l.triggeringEventId));
  const listOf = new Map(lists.map((l) => [l.triggeringEventId, l]));
  for (const [userId, own] of byUser) {
    own.sort((a, b) => a.record.offset - b.record.offset);
    const seen = new Set<string>();
    for (let i = 0; i < own.length; i++) {
      const click = own[i]!;
      seen.add(click.event.itemId);
      const answeredBy = own
        .slice(i)
        .find(
          (later) =>
            triggered.has(later.event.eventId) && later.record.offset - click.record.offset < BATCH_SIZE,
        );
      assert.ok(answeredBy, `click ${click.event.eventId} of ${userId} is answered by a list`);
      const list = listOf.get(click.event.eventId);
      if (list === undefined) continue;
      const shown = list.items.map((it) => it.itemId).filter((id) => seen.has(id));
      assert.deepEqual(shown, [], `list ${list.listId} excludes items ${userId} has seen`);
    }
  }
}

describe('KafkaEddy against a real broker', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  const used: TopicNames[] = [];

  before(async () => {
    kafka = testKafka('eddy-it-kafka-eddy');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    for (const topics of used) await deleteTopics(admin, topics);
    await admin.disconnect();
  });

  async function prepareTopics(prefix: string): Promise<TopicNames> {
    const topics = testTopics(prefix);
    used.push(topics);
    await ensureTopics(admin, eddyTopicSpecs(topics, PARTITIONS), { replicationFactor: 1 });
    return topics;
  }

  test('round trip: every click answered by a read_committed, Avro-valid list; seen items excluded', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const prefix = uniquePrefix('roundtrip');
    const topics = await prepareTopics(prefix);
    const events = input(11, 2_000);
    const producer = feedProducer(kafka);
    await producer.connect();
    await feed(producer, events, { encode: singleObjectEncoder(topics) });
    await producer.disconnect();

    const eddy = await runOver(admin, eddyOptions(prefix));
    assert.equal(eddy.stats.summary().deadLetters, 0);

    const clicks = await readClicks(kafka, admin, topics);
    assert.equal(
      clicks.length,
      events.filter((e) => e.kind === 'click').length,
      'every click is in the topic',
    );
    const lists = decodeLists(await readCommitted(kafka, admin, topics.recommendations));
    checkLists(lists, clicks, topics);
    const usersWithPositive = new Set(
      clicks.filter((c) => DEFAULT_MODEL_CONFIG.eventWeights[c.event.type] > 0).map((c) => c.event.userId),
    );
    const usersWithLists = new Set(lists.map((l) => l.userId));
    for (const user of usersWithPositive) assert.ok(usersWithLists.has(user), `${user} got a list`);

    // The changelog holds each user's exact state: one event counted per click.
    const states = decodeUserStates(latestPerKey(await readCommitted(kafka, admin, topics.userChangelog)));
    const perUser = new Map<string, number>();
    for (const c of clicks) perUser.set(c.event.userId, (perUser.get(c.event.userId) ?? 0) + 1);
    assert.equal(states.size, perUser.size);
    for (const [userId, count] of perUser) assert.equal(states.get(userId)?.counters.events, count, userId);
    assert.equal((await readCommitted(kafka, admin, topics.deadLetters)).length, 0);
  });

  test('poison records interleaved with good ones: all good processed, each bad one dead-lettered once with its position', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const prefix = uniquePrefix('poison');
    const topics = await prepareTopics(prefix);
    const events = input(12, 1_200);
    const good = events.map((e) =>
      e.kind === 'click'
        ? { topic: topics.clicks, key: e.event.userId, value: codecs.clickEvent.encode(e.event) }
        : { topic: topics.items, key: e.event.itemId, value: codecs.itemEvent.encode(e.event) },
    );
    const clickEvents = events.flatMap((e) => (e.kind === 'click' ? [e.event] : []));
    const bad = badRecords(topics, clickEvents, 3);
    // Bad record k goes after good record ⌊(k+1)·n/(B+1)⌋: spread over the stream and the partitions.
    const planned: {
      topic: string;
      key: string | null;
      value: Buffer | null;
      headers?: Record<string, string>;
    }[] = [];
    let next = 0;
    for (let i = 0; i < good.length; i++) {
      planned.push(good[i]!);
      while (next < bad.length && Math.floor(((next + 1) * good.length) / (bad.length + 1)) === i) {
        const b = bad[next++]!;
        planned.push({ ...b.record, headers: { 'x-case': b.name } });
      }
    }
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    for (let i = 0; i < planned.length; i += 500) {
      const chunk = planned.slice(i, i + 500);
      const byTopic = new Map<string, typeof chunk>();
      for (const r of chunk) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
      await producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({
          topic,
          messages: messages.map(({ key, value, headers }) => ({
            key,
            value,
            ...(headers ? { headers } : {}),
          })),
        })),
        acks: -1,
      });
    }
    await producer.disconnect();

    const eddy = await runOver(admin, eddyOptions(prefix));

    const inputs = [
      ...(await readCommitted(kafka, admin, topics.clicks)),
      ...(await readCommitted(kafka, admin, topics.items)),
    ];
    const position = new Map<string, SourceRecord>();
    for (const r of inputs) if (r.headers['x-case'] !== undefined) position.set(r.headers['x-case'], r);
    const dead = await readCommitted(kafka, admin, topics.deadLetters);
    assert.equal(dead.length, bad.length, 'exactly the bad records are dead-lettered, once each');
    for (const b of bad) {
      const source = position.get(b.name);
      assert.ok(source, `${b.name} was produced`);
      const letters = dead.filter((d) => d.headers['x-case'] === b.name);
      assert.equal(letters.length, 1, `${b.name}: one dead letter`);
      const letter = letters[0]!;
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.reason], b.reason, `${b.name}: reason`);
      assert.ok((letter.headers[DEAD_LETTER_HEADERS.detail] ?? '').length > 0, `${b.name}: detail`);
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.topic], source.topic);
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.partition], String(source.partition));
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.offset], String(source.offset));
      assert.deepEqual(
        letter.value === null ? null : Buffer.from(letter.value),
        source.value === null ? null : Buffer.from(source.value),
      );
    }
    // Every good click processed: lists answer all of them and the users' counters add up.
    const clicks = (await readClicks(kafka, admin, topics)).filter(
      (c) => c.record.headers['x-case'] === undefined,
    );
    assert.equal(clicks.length, clickEvents.length);
    checkLists(decodeLists(await readCommitted(kafka, admin, topics.recommendations)), clicks, topics);
    const states = decodeUserStates(latestPerKey(await readCommitted(kafka, admin, topics.userChangelog)));
    const perUser = new Map<string, number>();
    for (const c of clickEvents) perUser.set(c.userId, (perUser.get(c.userId) ?? 0) + 1);
    for (const [userId, count] of perUser) assert.equal(states.get(userId)?.counters.events, count, userId);
    assert.equal(eddy.stats.summary().deadLetters, bad.length);
  });

  describe('with a schema registry (Confluent wire format)', () => {
    let registry: FakeRegistry;
    before(async () => {
      registry = await startFakeRegistry();
    });
    after(async () => {
      await registry.close();
    });

    test('reads framed clicks of current and older writers, writes framed lists, dead-letters unknown ids', {
      timeout: TEST_TIMEOUT_MS,
    }, async () => {
      const prefix = uniquePrefix('registry');
      const topics = await prepareTopics(prefix);
      const events = input(13, 600);
      const clickEvents = events.flatMap((e) => (e.kind === 'click' ? [e.event] : []));
      const producer = feedProducer(kafka);
      await producer.connect();
      // Half the stream framed, half single-object: the decoder takes both.
      const framed = await registryEncoder(registry.url, topics);
      const plain = singleObjectEncoder(topics);
      await feed(producer, events, {
        encode: (e) => (e.kind === 'click' && hashOf(e.event.eventId) % 2 === 1 ? plain(e) : framed(e)),
      });
      const v1Schema = JSON.parse(
        readFileSync(join(SCHEMA_HISTORY_DIR, 'click-event.v1.avsc'), 'utf8'),
      ) as AvroSchema;
      const v1Id = registry.register(`${topics.clicks}-value`, v1Schema);
      const itemId = registry.register(`${topics.items}-value`, codecs.itemEvent.type.schema());
      const near = clickEvents[clickEvents.length - 1]!;
      const v1Click = {
        eventId: 'v1-click',
        userId: 'user-v1',
        itemId: near.itemId,
        type: 'like',
        eventTime: near.eventTime,
      };
      const item: ItemEvent = { ...emptyItem(near.itemId), title: 'framed item on the clicks topic' };
      await producer.send({
        topic: topics.clicks,
        acks: -1,
        messages: [
          { key: 'user-v1', value: frame(v1Id, parseSchema(v1Schema).toBuffer(v1Click)) },
          {
            key: near.userId,
            value: frame(itemId, codecs.itemEvent.type.toBuffer(item)),
            headers: { 'x-case': 'wrong_schema' },
          },
          {
            key: near.userId,
            value: frame(987_654, Buffer.from([2, 65])),
            headers: { 'x-case': 'unknown_schema' },
          },
        ],
      });
      await producer.disconnect();

      let started: KafkaStartReport | null = null;
      await runOver(admin, eddyOptions(prefix, { schemaRegistryUrl: registry.url }), (report) => {
        started = report;
      });
      // The catalog is framed too: the start-up read must resolve its writer schemas, not skip it.
      const catalogSize = events.filter((e) => e.kind === 'item').length;
      assert.ok(catalogSize > 0);
      assert.equal(started!.catalogRecords, catalogSize, 'every framed catalog record loaded at start');
      assert.equal(started!.catalogInvalid, 0);

      const listRecords = await readCommitted(kafka, admin, topics.recommendations);
      assert.ok(listRecords.length > 0);
      const client = new SchemaRegistry({ host: registry.url });
      const listSchemaFile = JSON.parse(
        readFileSync(join(SCHEMAS_DIR, 'recommendation-list.avsc'), 'utf8'),
      ) as AvroSchema;
      const listId = await client.getRegistryIdBySchema(`${topics.recommendations}-value`, {
        type: 'AVRO' as never,
        schema: JSON.stringify(listSchemaFile),
      });
      // Registered exactly as in schemas/: docs and defaults included, which readers resolving
      // against the registry need for compatible evolution.
      const registered = await fetch(`${registry.url}/schemas/ids/${listId}`).then(
        (r) => r.json() as Promise<{ schema: string }>,
      );
      assert.deepEqual(JSON.parse(registered.schema), listSchemaFile);
      const lists: RecommendationList[] = [];
      for (const r of listRecords) {
        const value = Buffer.from(r.value ?? new Uint8Array(0));
        assert.equal(value[0], 0, 'magic byte');
        assert.equal(value.readInt32BE(1), listId, 'the registry id of RecommendationList');
        lists.push(JSON.parse(JSON.stringify(await client.decode(value))) as RecommendationList);
      }
      assert.ok(
        lists.some((l) => l.triggeringEventId === 'v1-click'),
        'the v1-framed click got its list',
      );
      const dead = await readCommitted(kafka, admin, topics.deadLetters);
      assert.deepEqual(dead.map((d) => [d.headers['x-case'], d.headers[DEAD_LETTER_HEADERS.reason]]).sort(), [
        ['unknown_schema', 'unknown_schema'],
        ['wrong_schema', 'wrong_schema'],
      ]);
      const users = new Set(lists.map((l) => l.userId));
      for (const c of clickEvents) assert.ok(users.has(c.userId), `${c.userId} got a list`);
    });
  });
});

interface BadRecord {
  readonly name: string;
  readonly reason: DeadLetterReason;
  readonly record: { topic: string; key: string | null; value: Buffer | null };
}

/** Each kind of poison, `rounds` times, shaped after real clicks (same user key: same partition). */
function badRecords(topics: TopicNames, clicks: readonly ClickEvent[], rounds: number): BadRecord[] {
  const out: BadRecord[] = [];
  for (let round = 0; round < rounds; round++) {
    const near = clicks[Math.floor(((round + 0.5) / rounds) * (clicks.length - 1))]!;
    const click = (what: string, overrides: Partial<ClickEvent> = {}): ClickEvent => ({
      ...near,
      eventId: `bad-${round}-${what}`,
      ...overrides,
    });
    const random = new Random(500 + round);
    const noise = Buffer.from(Array.from({ length: 32 }, () => random.int(256)));
    noise[0] = 0x9f; // neither the single-object marker, Confluent framing nor '{'
    const complete = codecs.clickEvent.encode(click('truncated'));
    const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
    const add = (
      name: string,
      reason: DeadLetterReason,
      topic: string,
      key: string | null,
      value: Buffer | null,
    ): void => {
      out.push({ name: `${name} #${round}`, reason, record: { topic, key, value } });
    };
    add('random bytes', 'not_avro', topics.clicks, near.userId, noise);
    add('truncated Avro', 'not_avro', topics.clicks, near.userId, Buffer.from(complete.subarray(0, -5)));
    add(
      'ItemEvent on the clicks topic',
      'wrong_schema',
      topics.clicks,
      near.userId,
      codecs.itemEvent.encode(emptyItem(near.itemId)),
    );
    add(
      'unknown event type',
      'unknown_event_type',
      topics.clicks,
      near.userId,
      json({ ...click('type'), type: 'teleport' }),
    );
    add(
      'far-future eventTime',
      'future_timestamp',
      topics.clicks,
      near.userId,
      codecs.clickEvent.encode(click('future', { eventTime: TEST_NOW + 3 * 86_400_000 })),
    );
    add('tombstone', 'not_avro', topics.clicks, near.userId, null);
    add(
      'click keyed by another user',
      'key_mismatch',
      topics.clicks,
      `${near.userId}-other`,
      codecs.clickEvent.encode(click('rekeyed')),
    );
    add(
      'item with a wrong-dimension vector',
      'wrong_dimension',
      topics.items,
      near.itemId,
      codecs.itemEvent.encode({ ...emptyItem(near.itemId), contentVector: [0.5, 0.5] }),
    );
  }
  return out;
}

function emptyItem(itemId: string): ItemEvent {
  return {
    itemId,
    op: 'upsert',
    title: 'poison',
    categories: [],
    tags: [],
    available: true,
    contentVector: null,
    updatedAt: Date.UTC(2026, 0, 1),
  };
}

function frame(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

function hashOf(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}
