// Exactly-once across crashes: the `eddy` command in Kafka mode is killed with SIGKILL at random
// points mid-stream and restarted (same instance id), against a real broker. Skipped when
// KAFKA_BROKERS is unset (see test/support/kafka.ts).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { ensureTopics } from '../../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs } from '../../streams/app/kafka.js';
import { feed, feedProducer, registryEncoder, singleObjectEncoder } from '../../streams/app/kafka-feed.js';
import { codecs, schemaDocument } from '../../streams/codec/avro.js';
import { DEFAULT_MODEL_CONFIG } from '../../streams/model/model-config.js';
import type { TopicNames } from '../../streams/pipeline/topics.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { Random } from '../../streams/util/random.js';
import { killAll, metricsPort, parseLogLine, startEddy } from '../support/cli.js';
import { type FakeRegistry, startFakeRegistry } from '../support/fake-registry.js';
import {
  BROKERS,
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

const PARTITIONS = 3;
/** Small batches: many transactions, so a kill lands between and inside them. */
const BATCH_SIZE = 20;
const TRIALS = 3;
const CLICKS = 3_000;
const SEED = 4242;

/** Every WITHDRAW_EVERY-th catalog item is withdrawn (available: false) before the first click. */
const WITHDRAW_EVERY = 8;

/**
 * The input: the initial catalog, some of it withdrawn again, then clicks. Later catalog changes
 * are left out so that every click sees the same item categories in every run (the catalog is
 * loaded before any click).
 */
function input(): StreamEvent[] {
  const all = [
    ...syntheticStream({
      seed: SEED,
      users: 150,
      items: 200,
      categories: 8,
      events: CLICKS,
      startTime: Date.UTC(2020, 0, 1),
      contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
    }),
  ];
  const firstClick = all.findIndex((e) => e.kind === 'click');
  const catalog = all.slice(0, firstClick);
  const withdrawals: StreamEvent[] = catalog.flatMap((e, i) =>
    e.kind === 'item' && i % WITHDRAW_EVERY === 0
      ? [{ ...e, event: { ...e.event, available: false, updatedAt: e.event.updatedAt + 1 } }]
      : [],
  );
  return [...catalog, ...withdrawals, ...all.filter((e) => e.kind === 'click')];
}

function withdrawnItems(events: readonly StreamEvent[]): Set<string> {
  const available = new Map<string, boolean>();
  for (const e of events) if (e.kind === 'item') available.set(e.event.itemId, e.event.available);
  return new Set([...available].filter(([, yes]) => !yes).map(([itemId]) => itemId));
}

function eddyArgs(prefix: string, registryUrl: string): string[] {
  return [
    '--kafka-brokers',
    BROKERS,
    // One pipeline per process: the test counts instances (the default is one per core).
    '--threads',
    '1',
    // With a registry, as the catalog that got lost at a crash was registry-framed.
    '--schema-registry-url',
    registryUrl,
    '--topic-prefix',
    prefix,
    '--group-id',
    prefix,
    '--instance-id',
    'crash-test',
    '--partitions',
    String(PARTITIONS),
    '--batch-size',
    String(BATCH_SIZE),
    '--coalesce',
    '10ms',
    // The broker's minimum: a killed member's partitions are reassigned this long after the kill.
    '--kafka-session-timeout',
    '6s',
    '--http-port',
    '0',
    '--log-format',
    'json',
    '--summary-every',
    '1h',
  ];
}

async function committedSoFar(admin: Admin, groupId: string, topics: TopicNames): Promise<number> {
  const offsets = await admin.fetchOffsets({ groupId, topics: [topics.clicks] });
  let total = 0;
  for (const { partitions } of offsets) for (const p of partitions) total += Math.max(0, Number(p.offset));
  return total;
}

/** Runs eddy until the group has committed everything, then stops it with SIGTERM (exit 0). */
async function runToEnd(
  admin: Admin,
  prefix: string,
  topics: TopicNames,
  registryUrl: string,
): Promise<void> {
  const eddy = startEddy(eddyArgs(prefix, registryUrl));
  await waitForGroupCaughtUp(admin, prefix, [topics.clicks, topics.items], 180_000, () => {
    if (eddy.child.exitCode !== null) throw new Error(`eddy exited early:\n${eddy.stderr()}`);
  });
  // Caught up: connected, catalog loaded, every assigned partition restored — so /readyz says ready.
  const started = parseLogLine(await eddy.waitForStderrLine((l) => l.includes('"eddy started"'), 10_000));
  const ready = await fetch(`http://127.0.0.1:${metricsPort(started)}/readyz`);
  assert.equal(ready.status, 200, 'ready once caught up');
  eddy.child.kill('SIGTERM');
  const exit = await eddy.waitForExit(60_000);
  assert.equal(exit.code, 0, `eddy exits 0 after SIGTERM:\n${eddy.stderr().slice(-3_000)}`);
  const lines = eddy.stderrLines().map(parseLogLine);
  assert.ok(lines.some((l) => l.msg.startsWith('stopped: in-flight batch committed')));
}

describe('crash: kill -9 mid-stream, restart, exactly-once', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  let registry: FakeRegistry;
  const used: TopicNames[] = [];

  before(async () => {
    kafka = testKafka('eddy-it-crash');
    admin = kafka.admin();
    await admin.connect();
    registry = await startFakeRegistry();
  });

  after(async () => {
    await killAll();
    await registry.close();
    for (const topics of used) await deleteTopics(admin, topics);
    await admin.disconnect();
  });

  async function produce(prefix: string, events: readonly StreamEvent[]): Promise<TopicNames> {
    const topics = testTopics(prefix);
    used.push(topics);
    await ensureTopics(admin, eddyTopicSpecs(topics, PARTITIONS), { replicationFactor: 1 });
    const producer = feedProducer(kafka);
    await producer.connect();
    // The catalog framed for the registry (what the start-up read must resolve), clicks single-object.
    const framed = await registryEncoder(registry.url, topics);
    const plain = singleObjectEncoder(topics);
    await feed(producer, events, { encode: (e) => (e.kind === 'item' ? framed(e) : plain(e)) });
    await producer.disconnect();
    return topics;
  }

  test(`${TRIALS} kills at random points: no input lost, no list duplicated, user state as in an uninterrupted run`, {
    timeout: 600_000,
  }, async () => {
    const events = input();
    const clickCount = events.filter((e) => e.kind === 'click').length;

    // The reference: the same input, one uninterrupted run.
    const refPrefix = uniquePrefix('crash-ref');
    const refTopics = await produce(refPrefix, events);
    await runToEnd(admin, refPrefix, refTopics, registry.url);

    const prefix = uniquePrefix('crash');
    const topics = await produce(prefix, events);
    const random = new Random(Date.now() % 100_000);
    const killedAt: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const eddy = startEddy(eddyArgs(prefix, registry.url));
      const from = await committedSoFar(admin, prefix, topics);
      // Kill once this run has committed a random 3–20% of the stream: mid-stream by construction.
      const target = from + Math.ceil(clickCount * (0.03 + 0.17 * random.next()));
      const deadline = Date.now() + 120_000;
      while ((await committedSoFar(admin, prefix, topics)) < target) {
        if (eddy.child.exitCode !== null) assert.fail(`eddy exited before the kill:\n${eddy.stderr()}`);
        if (Date.now() > deadline)
          assert.fail(`no progress to ${target} committed clicks:\n${eddy.stderr()}`);
        await sleep(20);
      }
      await sleep(random.int(150));
      eddy.child.kill('SIGKILL');
      const exit = await eddy.waitForExit(30_000);
      assert.equal(exit.signal, 'SIGKILL');
      killedAt.push(await committedSoFar(admin, prefix, topics));
    }
    assert.ok(
      killedAt.every((c) => c < clickCount),
      `every kill left input to process (committed clicks at the kills: ${killedAt.join(', ')} of ${clickCount})`,
    );
    await runToEnd(admin, prefix, topics, registry.url);

    // No input lost: the group's offsets reach the end of both input topics.
    assert.equal(await groupLag(admin, prefix, [topics.clicks, topics.items]), 0);

    // No output duplicated under read_committed, and every click's effect present.
    const inputClicks = await readCommitted(kafka, admin, topics.clicks);
    const byEventId = new Map(
      inputClicks.map((r) => [codecs.clickEvent.decode(r.value ?? new Uint8Array(0)).eventId, r] as const),
    );
    const listSchemaId = registry.register(
      `${topics.recommendations}-value`,
      schemaDocument('RecommendationList'),
    );
    if (!codecs.recommendationList.hasRegistryWriter(listSchemaId)) {
      codecs.recommendationList.addRegistryWriter(listSchemaId, schemaDocument('RecommendationList'));
    }
    const lists = decodeLists(await readCommitted(kafka, admin, topics.recommendations));
    const ids = lists.map((l) => l.listId);
    // The catalog is restored at every start, whatever the group had committed on the items topic.
    const withdrawn = withdrawnItems(events);
    assert.ok(withdrawn.size > 0);
    for (const list of lists) {
      const served = list.items.filter((item) => withdrawn.has(item.itemId)).map((item) => item.itemId);
      assert.deepEqual(served, [], `list ${list.listId} serves withdrawn items`);
    }
    assert.equal(new Set(ids).size, ids.length, 'list ids are unique: nothing was committed twice');
    for (const list of lists) {
      const trigger = byEventId.get(list.triggeringEventId);
      assert.ok(trigger, `list ${list.listId} answers an input click`);
      assert.equal(list.listId, `${topics.clicks}-${trigger.partition}-${trigger.offset}`);
    }
    const answered = new Map<string, number[]>();
    for (const list of lists) {
      const r = byEventId.get(list.triggeringEventId)!;
      const key = `${r.partition}/${list.userId}`;
      answered.set(key, [...(answered.get(key) ?? []), r.offset]);
    }
    for (const [eventId, r] of byEventId) {
      const offsets = answered.get(`${r.partition}/${r.key}`) ?? [];
      assert.ok(
        offsets.some((o) => o >= r.offset && o - r.offset < BATCH_SIZE),
        `click ${eventId} (${r.partition}@${r.offset}) is answered by its own list or its burst's`,
      );
    }
    const refLists = decodeLists(await readCommitted(kafka, admin, refTopics.recommendations));
    for (const list of refLists) assert.ok(list.items.every((item) => !withdrawn.has(item.itemId)));
    assert.deepEqual(
      [...new Set(lists.map((l) => l.userId))].sort(),
      [...new Set(refLists.map((l) => l.userId))].sort(),
      'the same users got lists as in the uninterrupted run',
    );

    // User state equals the uninterrupted run's, field by exact field (see exactUserState for why
    // vectors are left out: they depend on the shared item model, not only on the user's events).
    const states = decodeUserStates(latestPerKey(await readCommitted(kafka, admin, topics.userChangelog)));
    const refStates = decodeUserStates(
      latestPerKey(await readCommitted(kafka, admin, refTopics.userChangelog)),
    );
    assert.equal(states.size, refStates.size);
    for (const [userId, ref] of refStates) {
      const state = states.get(userId);
      assert.ok(state, `${userId} has state after the crashes`);
      assert.deepEqual(exactUserState(state), exactUserState(ref), `${userId}: state as without crashes`);
    }
    assert.equal((await readCommitted(kafka, admin, topics.deadLetters)).length, 0);

    // Exactly-once for the shared item model: under read_committed the item-updates topic holds
    // each engaged click's increment once — the same multiset as the uninterrupted run's (their
    // order differs between any two runs over several partitions, as batches interleave) — and
    // the checkpoint written at the clean shutdown reflects all of it.
    const incrementsOf = async (names: TopicNames): Promise<string[]> =>
      (await readCommitted(kafka, admin, names.itemUpdates))
        .flatMap((r) => codecs.itemModelIncrements.decode(r.value ?? new Uint8Array(0)).clicks)
        .map((i) => `${i.itemId}@${i.eventTime}<${i.preceding.join(',')}`)
        .sort();
    const [increments, refIncrements] = [await incrementsOf(topics), await incrementsOf(refTopics)];
    assert.ok(refIncrements.length > 0);
    assert.deepEqual(increments, refIncrements, 'item increments: none lost, none applied twice');
    for (const [group, names, count] of [
      [refPrefix, refTopics, refIncrements.length],
      [prefix, topics, increments.length],
    ] as const) {
      const header = codecs.rankingState.decode(
        latestPerKey(await readCommitted(kafka, admin, names.rankingChangelog)).get(group) ??
          new Uint8Array(0),
      ).itemModel;
      assert.ok(header, `${group}: the checkpoint says where it stands in the item-updates topic`);
      assert.equal(header.incrementsApplied, count, `${group}: the last checkpoint reflects every increment`);
      // The session-kNN index was checkpointed with it: one slot per session that clicked (fewer
      // than its capacity here), each created once.
      const sessionKeys = new Set(
        (await readCommitted(kafka, admin, names.itemUpdates)).flatMap((r) =>
          codecs.itemModelIncrements.decode(r.value ?? new Uint8Array(0)).clicks.map((c) => c.sessionKey),
        ),
      );
      const sessionIndex = latestPerKey(await readCommitted(kafka, admin, names.sessionChangelog));
      const sessionHeader = codecs.sessionIndex.decode(
        sessionIndex.get('header') ?? new Uint8Array(0),
      ).header;
      assert.ok(sessionHeader, `${group}: the session index was checkpointed`);
      assert.equal(sessionHeader.sessionsCreated, sessionKeys.size, `${group}: every session created once`);
      assert.equal([...sessionIndex.keys()].filter((k) => k.startsWith('slot:')).length, sessionKeys.size);
      const interactions = new Map(
        [...latestPerKey(await readCommitted(kafka, admin, names.itemChangelog))].flatMap(([key, value]) =>
          value === null ? [] : [[key, codecs.itemState.decode(value).interactions] as const],
        ),
      );
      if (group === prefix) {
        const refInteractions = new Map(
          [...latestPerKey(await readCommitted(kafka, admin, refTopics.itemChangelog))].flatMap(
            ([key, value]) =>
              value === null ? [] : [[key, codecs.itemState.decode(value).interactions] as const],
          ),
        );
        assert.deepEqual(interactions, refInteractions, 'interactions per item as without crashes');
      }
    }

    // The learned ranking weights were checkpointed under the group's key at the clean shutdown
    // (not compared with the reference: pools in memory at a kill are lost, so fewer picks are learned).
    for (const [group, names] of [
      [refPrefix, refTopics],
      [prefix, topics],
    ] as const) {
      const ranking = latestPerKey(await readCommitted(kafka, admin, names.rankingChangelog));
      assert.deepEqual([...ranking.keys()], [group]);
      const state = codecs.rankingState.decode(ranking.get(group) ?? new Uint8Array(0));
      assert.ok(state.updates > 0, `${group}: the ranking learned from picks`);
    }
  });
});
