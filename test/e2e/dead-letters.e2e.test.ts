import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmbeddedEddy, type EmbeddedOptions } from '../../streams/app/embedded.js';
import { codecs, encodeWith } from '../../streams/codec/avro.js';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../../streams/errors.js';
import type { ClickEvent, ItemEvent, RecommendationList } from '../../streams/model/events.js';
import { toItemStateRecord } from '../../streams/model/item-state.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import { toUserStateRecord } from '../../streams/model/user-state-serde.js';
import { EddyMetrics } from '../../streams/observe/metrics.js';
import { DEAD_LETTER_HEADERS, type TopicNames, topicNames } from '../../streams/pipeline/topics.js';
import type { OutgoingRecord, SourceRecord, TopicPartitionOffset } from '../../streams/ports/event-log.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { Random } from '../../streams/util/random.js';
import { emittedLists, readTopic, TEST_NOW, testOptions } from '../support/embedded-run.js';

/**
 * Bad input never stops the pipeline: every record that cannot become an event lands on the
 * dead-letter topic once, with its reason and source position, is counted, and leaves the model
 * exactly as if it had never been produced.
 */

const DIMENSION = DEFAULT_MODEL_CONFIG.dimension;
const DAY_MS = 86_400_000;
/** Long enough for a few thousand small batches on a slow CI machine; a stall takes forever. */
const DEADLINE_MS = 60_000;
/** Good events: a small catalog carrying content vectors of the model's dimension, plus clicks. */
const STREAM = {
  seed: 23,
  users: 60,
  items: 120,
  categories: 6,
  events: 1_500,
  contentVectorDimension: DIMENSION,
} as const;
/** An extra header on some bad records: a dead letter keeps the producer's headers. */
const PRODUCER_HEADER = { 'x-producer': 'fuzzer' } as const;

interface BadCase {
  readonly name: string;
  readonly reason: DeadLetterReason;
  readonly record: OutgoingRecord;
}

/** A record to produce; `bad` when it must end up on the dead-letter topic. */
interface Planned {
  readonly record: OutgoingRecord;
  readonly bad?: BadCase;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

/**
 * One of every kind of bad record, shaped after the good click `near` (same user key, so it lands in
 * that user's partition between good records; the item cases reuse a real catalog item id, so an
 * accidental apply would corrupt a live item).
 */
function badCases(topics: TopicNames, round: number, near: ClickEvent): BadCase[] {
  const id = (what: string): string => `bad-${round}-${what}`;
  const click = (what: string, overrides: Partial<ClickEvent> = {}): ClickEvent => ({
    eventId: id(what),
    userId: near.userId,
    itemId: near.itemId,
    type: 'click',
    eventTime: near.eventTime,
    sessionId: null,
    context: {},
    ...overrides,
  });
  const item = (overrides: Partial<ItemEvent>): ItemEvent => ({
    itemId: near.itemId,
    op: 'upsert',
    title: 'corrupted',
    categories: ['corrupted'],
    tags: [],
    available: true,
    contentVector: new Array<number>(DIMENSION).fill(0.5),
    updatedAt: near.eventTime,
    ...overrides,
  });
  const onClicks = (
    name: string,
    reason: DeadLetterReason,
    key: string | null,
    value: Uint8Array | null,
    headers?: Readonly<Record<string, string>>,
  ): BadCase => ({
    name: `${name} (#${round})`,
    reason,
    record: { topic: topics.clicks, key, value, headers },
  });
  const onItems = (
    name: string,
    reason: DeadLetterReason,
    value: ItemEvent,
    key: string = value.itemId,
  ): BadCase => ({
    name: `${name} (#${round})`,
    reason,
    record: { topic: topics.items, key, value: codecs.itemEvent.encode(value) },
  });

  const { itemId: _omitted, ...withoutItemId } = click('missing');
  const random = new Random(1_000 + round);
  const noise = Buffer.from(Array.from({ length: 40 }, () => random.int(256)));
  noise[0] = 0x9f; // neither the Avro marker, Confluent framing nor `{`
  const complete = codecs.clickEvent.encode(click('truncated'));
  const unknownWriter = Buffer.from(codecs.clickEvent.encode(click('unknown-writer')));
  unknownWriter.writeBigUInt64LE(0x0123_4567_89ab_cdefn + BigInt(round), 2);

  return [
    onClicks('click JSON without itemId', 'missing_field', near.userId, json(withoutItemId), PRODUCER_HEADER),
    onClicks(
      'click JSON with a string eventTime',
      'wrong_type',
      near.userId,
      json({ ...click('wrong-type'), eventTime: 'yesterday' }),
    ),
    onClicks(
      'click JSON with an unknown event type',
      'unknown_event_type',
      near.userId,
      json({ ...click('unknown-type'), type: 'teleport' }),
    ),
    onClicks(
      'Avro click two days in the future',
      'future_timestamp',
      near.userId,
      codecs.clickEvent.encode(click('future', { eventTime: TEST_NOW + 2 * DAY_MS })),
    ),
    onClicks(
      'Avro click with an empty userId',
      'invalid_value',
      '',
      codecs.clickEvent.encode(click('empty-user', { userId: '' })),
    ),
    onItems('ItemEvent with NaN in contentVector', 'non_finite_number', {
      ...item({}),
      contentVector: new Array<number>(DIMENSION).fill(0.25).map((x, i) => (i === 7 ? Number.NaN : x)),
    }),
    onItems('ItemEvent with an 8-dimensional contentVector', 'wrong_dimension', {
      ...item({}),
      contentVector: new Array<number>(8).fill(0.25),
    }),
    onClicks(
      'click keyed by another user',
      'key_mismatch',
      `${near.userId}-other`,
      codecs.clickEvent.encode(click('other-key')),
    ),
    onClicks('click with a null key', 'key_mismatch', null, codecs.clickEvent.encode(click('null-key'))),
    onItems(
      'ItemEvent keyed by another item',
      'key_mismatch',
      item({ title: 'rekeyed' }),
      `${near.itemId}-other`,
    ),
    onClicks('random bytes', 'not_avro', null, noise, PRODUCER_HEADER),
    onClicks('truncated Avro click', 'not_avro', near.userId, Buffer.from(complete.subarray(0, -4))),
    onClicks(
      'ItemEvent (valid Avro) on the clicks topic',
      'wrong_schema',
      near.userId,
      codecs.itemEvent.encode(item({ itemId: id('item') })),
    ),
    onClicks('Avro click of an unknown writer schema', 'unknown_schema', near.userId, unknownWriter),
    onClicks('tombstone (null value)', 'not_avro', near.userId, null),
  ];
}

/** A click from an old producer (writer schema v1: no sessionId, no context) by a user of its own. */
function oldSchemaClick(near: ClickEvent): ClickEvent {
  return {
    eventId: 'v1-click',
    userId: 'user-v1',
    itemId: near.itemId,
    type: 'like',
    eventTime: near.eventTime,
    sessionId: null,
    context: {},
  };
}

function v1Record(topics: TopicNames, click: ClickEvent): OutgoingRecord {
  const { sessionId: _s, context: _c, ...v1 } = click;
  return { topic: topics.clicks, key: click.userId, value: encodeWith('ClickEvent', 'v1', v1) };
}

function encode(topics: TopicNames, e: StreamEvent): OutgoingRecord {
  return e.kind === 'click'
    ? { topic: topics.clicks, key: e.event.userId, value: codecs.clickEvent.encode(e.event) }
    : { topic: topics.items, key: e.event.itemId, value: codecs.itemEvent.encode(e.event) };
}

interface Scenario {
  /** Everything, bad records spread evenly between the good ones (produce order). */
  readonly withBad: Planned[];
  /** The same good records (the v1 click encoded with the current schema), no bad ones. */
  readonly clean: Planned[];
  readonly bad: BadCase[];
  readonly v1: ClickEvent;
  readonly goodClicks: number;
  readonly goodItems: number;
}

function scenario(topics: TopicNames, good: readonly StreamEvent[], rounds: number): Scenario {
  const clicks = good.flatMap((e) => (e.kind === 'click' ? [e.event] : []));
  const clickAt = (fraction: number): ClickEvent => clicks[Math.floor(fraction * (clicks.length - 1))]!;
  const bad: BadCase[] = [];
  for (let round = 0; round < rounds; round++)
    bad.push(...badCases(topics, round, clickAt((round + 0.5) / rounds)));
  const v1 = oldSchemaClick(clickAt(0.5));

  // Bad record k goes after good record ⌊(k+1)·n/(B+1)⌋: spread over the whole stream (and so over
  // every partition, several per batch); the v1 click goes in the middle.
  const n = good.length;
  const badAfter = new Map<number, BadCase[]>();
  bad.forEach((b, k) => {
    const at = Math.floor(((k + 1) * n) / (bad.length + 1));
    badAfter.set(at, [...(badAfter.get(at) ?? []), b]);
  });
  const v1At = Math.floor(n / 2);
  const withBad: Planned[] = [];
  const clean: Planned[] = [];
  good.forEach((e, i) => {
    const record = encode(topics, e);
    withBad.push({ record });
    clean.push({ record });
    if (i === v1At) {
      withBad.push({ record: v1Record(topics, v1) });
      clean.push({ record: encode(topics, { kind: 'click', event: v1 }) });
    }
    for (const b of badAfter.get(i) ?? []) withBad.push({ record: b.record, bad: b });
  });
  return { withBad, clean, bad, v1, goodClicks: clicks.length + 1, goodItems: good.length - clicks.length };
}

/** Rejects (and stops the run) when `work` has not settled within the deadline: the pipeline stalled. */
async function beforeDeadline<T>(work: Promise<T>, onStall: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stalled after ${DEADLINE_MS} ms: ${onStall()}`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([work, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

interface Run {
  readonly eddy: EmbeddedEddy;
  /** Where each planned record was appended, per phase, in plan order. */
  readonly positions: TopicPartitionOffset[][];
  /** Valid catalog records the start-up read applied. */
  readonly catalogAtStart: number;
}

/**
 * Runs the real embedded pipeline over `phases`: the first is produced before start (so the catalog
 * bootstrap sees it), each next one once the previous is fully committed. Fails on a stall.
 */
async function run(options: EmbeddedOptions, phases: readonly (readonly Planned[])[]): Promise<Run> {
  const eddy = new EmbeddedEddy(options);
  const positions: TopicPartitionOffset[][] = [];
  const abort = new AbortController();
  const [first = [], ...rest] = phases;
  positions.push(eddy.log.produce(first.map((p) => p.record)));
  const { running, restored } = await eddy.start();
  const feeding = (async () => {
    await eddy.drained(abort.signal);
    for (const phase of rest) {
      positions.push(eddy.log.produce(phase.map((p) => p.record)));
      await eddy.drained(abort.signal);
    }
    await eddy.stop();
  })();
  try {
    // A pipeline failure surfaces at once instead of as a stall.
    await beforeDeadline(
      Promise.race([feeding, running.then(() => feeding)]).then(() => running),
      () => `lag ${eddy.lag()} records`,
    );
  } catch (error) {
    abort.abort();
    await eddy.stop();
    throw error;
  }
  return { eddy, positions, catalogAtStart: restored.catalogRecords };
}

const positionKey = (topic: string, partition: number, offset: number): string =>
  `${topic}/${partition}/${offset}`;

const sameBytes = (a: Uint8Array | null, b: Uint8Array | null): boolean =>
  a === null || b === null ? a === b : Buffer.from(a).equals(Buffer.from(b));

function header(record: SourceRecord, name: string): string | undefined {
  return record.headers[name];
}

/** Lists without their id: the id is the triggering record's offset, which bad records shift. */
function withoutListId(lists: readonly RecommendationList[]): Omit<RecommendationList, 'listId'>[] {
  return lists.map(({ listId: _id, ...rest }) => rest);
}

function countByReason(bad: readonly BadCase[]): Map<DeadLetterReason, number> {
  const counts = new Map<DeadLetterReason, number>();
  for (const b of bad) counts.set(b.reason, (counts.get(b.reason) ?? 0) + 1);
  return counts;
}

test('bad cases cover every dead-letter reason', () => {
  const topics = topicNames();
  const near: ClickEvent = {
    eventId: 'e',
    userId: 'u',
    itemId: 'i',
    type: 'view',
    eventTime: TEST_NOW - DAY_MS,
    sessionId: null,
    context: {},
  };
  assert.deepEqual(
    new Set(badCases(topics, 0, near).map((b) => b.reason)),
    new Set(DEAD_LETTER_REASONS),
    'a reason without a case is untested',
  );
});

test('every bad record is dead-lettered once with its reason and source position; good ones are all processed', async () => {
  const options = testOptions({ batchSize: 50 });
  const topics = topicNames();
  const s = scenario(topics, [...syntheticStream(STREAM)], 2);
  const { eddy, positions, catalogAtStart } = await run(options, [s.withBad]);
  const produced = positions[0]!;

  // The pipeline completed: every input partition is committed up to its end.
  assert.equal(eddy.lag(), 0);
  for (const topic of [topics.clicks, topics.items]) {
    for (let p = 0; p < options.partitions; p++) {
      assert.equal(
        eddy.log.committed(eddy.groupId, topic, p),
        eddy.log.endOffset(topic, p),
        `${topic}[${p}]`,
      );
    }
  }

  const input = new Map<string, SourceRecord>();
  for (const topic of [topics.clicks, topics.items]) {
    for (const r of await readTopic(eddy, topic)) input.set(positionKey(r.topic, r.partition, r.offset), r);
  }
  const deadLetters = await readTopic(eddy, topics.deadLetters);
  const dlqByPosition = new Map<string, SourceRecord[]>();
  for (const d of deadLetters) {
    const at = positionKey(
      header(d, DEAD_LETTER_HEADERS.topic) ?? '?',
      Number(header(d, DEAD_LETTER_HEADERS.partition)),
      Number(header(d, DEAD_LETTER_HEADERS.offset)),
    );
    dlqByPosition.set(at, [...(dlqByPosition.get(at) ?? []), d]);
  }

  assert.equal(deadLetters.length, s.bad.length, 'one dead letter per bad record, nothing else');
  const badPartitions = new Set<string>();
  s.withBad.forEach((planned, i) => {
    const position = produced[i]!;
    const at = positionKey(position.topic, position.partition, position.offset);
    const original = input.get(at);
    assert.ok(original, `input record at ${at}`);
    assert.equal(original.key, planned.record.key);
    assert.ok(sameBytes(original.value, planned.record.value), `input bytes at ${at}`);
    const letters = dlqByPosition.get(at) ?? [];
    if (planned.bad === undefined) {
      assert.equal(letters.length, 0, `good record at ${at} was dead-lettered`);
      return;
    }
    const { name, reason } = planned.bad;
    badPartitions.add(`${position.topic}/${position.partition}`);
    assert.equal(letters.length, 1, `${name}: ${letters.length} dead letters`);
    const letter = letters[0]!;
    assert.equal(header(letter, DEAD_LETTER_HEADERS.reason), reason, `${name}: reason`);
    assert.equal(header(letter, DEAD_LETTER_HEADERS.topic), original.topic, `${name}: topic`);
    assert.equal(
      header(letter, DEAD_LETTER_HEADERS.partition),
      String(original.partition),
      `${name}: partition`,
    );
    assert.equal(header(letter, DEAD_LETTER_HEADERS.offset), String(original.offset), `${name}: offset`);
    assert.ok((header(letter, DEAD_LETTER_HEADERS.detail) ?? '').length > 0, `${name}: detail`);
    assert.equal(letter.key, original.key, `${name}: key`);
    assert.ok(sameBytes(letter.value, original.value), `${name}: value bytes`);
    for (const [k, v] of Object.entries(planned.record.headers ?? {})) {
      assert.equal(header(letter, k), v, `${name}: producer header ${k}`);
    }
  });
  assert.ok(badPartitions.size >= options.partitions, 'bad records spread over several partitions');

  const summary = eddy.stats.summary();
  assert.equal(summary.deadLetters, s.bad.length);
  assert.equal(summary.clicks, s.goodClicks, 'every good click (and the v1 one) was processed');
  assert.equal(summary.items, s.goodItems);
  assert.equal(catalogAtStart, s.goodItems, 'the catalog, all produced before the start, read at start');

  // The old-schema click was resolved, learned from and answered with a list.
  const v1User = eddy.users.get(s.v1.userId);
  assert.ok(v1User, 'the v1 click created its user');
  assert.equal(v1User.events, 1);
  const lists = await emittedLists(eddy);
  assert.ok(lists.some((l) => l.userId === s.v1.userId && l.triggeringEventId === s.v1.eventId));

  // Every good click's user was served, and nothing was triggered by a bad record.
  const clean = await run(options, [s.clean]);
  const cleanLists = await emittedLists(clean.eddy);
  const usersServed = (ls: readonly RecommendationList[]): string[] =>
    [...new Set(ls.map((l) => l.userId))].sort();
  assert.deepEqual(usersServed(lists), usersServed(cleanLists));
  const goodEventIds = new Set(
    s.clean.flatMap((p) =>
      p.record.topic === topics.clicks && p.record.value
        ? [codecs.clickEvent.decode(p.record.value).eventId]
        : [],
    ),
  );
  for (const list of lists) assert.ok(goodEventIds.has(list.triggeringEventId), list.triggeringEventId);
  assert.equal(clean.eddy.stats.summary().clicks, s.goodClicks);
});

test('bad records do not touch the model: lists and state equal a run without them', async () => {
  // One partition and one record per batch make processing order, batch boundaries and so every list
  // independent of the bad records between the good ones. The catalog (with bad item records) is
  // committed before the clicks arrive, as the bad run's items would otherwise shift their order.
  const options = testOptions({ partitions: 1, batchSize: 1 });
  const topics = topicNames();
  const good = [...syntheticStream({ ...STREAM, events: 500 })];
  const s = scenario(topics, good, 2);
  const isItem = (p: Planned): boolean => p.record.topic === topics.items;
  const phases = (plan: readonly Planned[]): Planned[][] => {
    const clicks = plan.filter((p) => !isItem(p));
    // The last input record is a good one, so "caught up" (lag 0) happens on the same batch in both runs.
    assert.equal(clicks[clicks.length - 1]?.bad, undefined);
    return [plan.filter(isItem), clicks];
  };
  const withBad = await run(options, phases(s.withBad));
  const clean = await run(options, phases(s.clean));

  assert.equal(withBad.eddy.stats.summary().deadLetters, s.bad.length);
  assert.equal(clean.eddy.stats.summary().deadLetters, 0);
  assert.equal((await readTopic(withBad.eddy, topics.deadLetters)).length, s.bad.length);

  const [listsWithBad, cleanLists] = [await emittedLists(withBad.eddy), await emittedLists(clean.eddy)];
  assert.equal(listsWithBad.length, s.goodClicks, 'one list per good click (batches of one)');
  assert.deepEqual(withoutListId(listsWithBad), withoutListId(cleanLists));
  // Each list id still names the position of the click that triggered it in its own run.
  for (const { eddy } of [withBad, clean]) {
    const clicks = new Map(
      (await readTopic(eddy, topics.clicks)).map((r) => [`${r.topic}-${r.partition}-${r.offset}`, r]),
    );
    for (const list of await emittedLists(eddy)) {
      const trigger = clicks.get(list.listId);
      assert.ok(trigger?.value, list.listId);
      assert.equal(codecs.clickEvent.decode(trigger.value).eventId, list.triggeringEventId);
    }
  }

  // Learned state is identical too, user by user and item by item.
  assert.equal(withBad.eddy.users.size, clean.eddy.users.size);
  for (const [userId, user] of clean.eddy.users.entries()) {
    const other = withBad.eddy.users.get(userId);
    assert.ok(other, userId);
    assert.deepEqual(toUserStateRecord(other), toUserStateRecord(user), userId);
  }
  const itemIds = [...clean.eddy.model.items.values()].map((item) => item.itemId).sort();
  assert.deepEqual([...withBad.eddy.model.items.values()].map((item) => item.itemId).sort(), itemIds);
  for (const itemId of itemIds) {
    assert.notEqual(withBad.eddy.model.items.get(itemId)?.title, 'corrupted', itemId);
    assert.deepEqual(
      toItemStateRecord(withBad.eddy.model, itemId),
      toItemStateRecord(clean.eddy.model, itemId),
    );
  }
});

test('dead letters are counted in Prometheus by reason', async () => {
  const metrics = new EddyMetrics({ processMetrics: false });
  const options = testOptions({ batchSize: 50, metrics });
  const topics = topicNames();
  const s = scenario(topics, [...syntheticStream(STREAM)], 2);
  const { eddy } = await run(options, [s.withBad]);
  assert.equal(eddy.stats.summary().deadLetters, s.bad.length);

  const deadLetters = metrics.registry.getSingleMetric('eddy_dead_letters_total');
  assert.ok(deadLetters, 'eddy_dead_letters_total is registered');
  const counted = new Map<string, number>();
  for (const { labels, value } of (await deadLetters.get()).values) {
    // Every reason is exported from the start (at 0), so compare the ones that occurred.
    if (value > 0) counted.set(String(labels.reason), value);
  }
  assert.deepEqual(counted, countByReason(s.bad));

  // The exposition text carries the same counts.
  const text = await metrics.registry.getSingleMetricAsString('eddy_dead_letters_total');
  for (const [reason, count] of countByReason(s.bad)) {
    assert.match(text, new RegExp(`^eddy_dead_letters_total\\{reason="${reason}"\\} ${count}$`, 'm'));
  }

  // Input outcomes: dead letters by kind (topic), every good event processed.
  const events = metrics.registry.getSingleMetric('eddy_events_total');
  assert.ok(events);
  const outcomes = new Map<string, number>();
  for (const { labels, value } of (await events.get()).values) {
    const k = `${String(labels.kind)}/${String(labels.outcome)}`;
    outcomes.set(k, (outcomes.get(k) ?? 0) + value);
  }
  const badItems = s.bad.filter((b) => b.record.topic === topics.items).length;
  assert.equal(outcomes.get('item/dead_lettered'), badItems);
  assert.equal(outcomes.get('click/dead_lettered'), s.bad.length - badItems);
  assert.equal(outcomes.get('click/processed'), s.goodClicks);
  assert.equal(outcomes.get('item/processed'), s.goodItems);
});
