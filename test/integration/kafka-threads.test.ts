// `eddy --threads 2` on a real broker: one process, two pipelines on worker threads, each an
// instance of the consumer group with its own transactional id. The group splits the partitions
// between them, each thread's replica of the item model applies every engaged click (its own and
// the other thread's), one HTTP port serves both threads' metrics (labelled by thread) and
// redirects interactive queries, and SIGTERM stops both gracefully. Skipped when KAFKA_BROKERS is unset.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { ensureTopics } from '../../streams/adapters/kafka/topic-admin.js';
import { eddyTopicSpecs } from '../../streams/app/kafka.js';
import { feed, feedProducer, singleObjectEncoder } from '../../streams/app/kafka-feed.js';
import { DEFAULT_MODEL_CONFIG, engagementStrength } from '../../streams/model/model-config.js';
import type { TopicNames } from '../../streams/pipeline/topics.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { killAll, metricsPort, parseLogLine, startEddy } from '../support/cli.js';
import {
  BROKERS,
  decodeLists,
  deleteTopics,
  groupLag,
  readCommitted,
  SKIP_KAFKA,
  testKafka,
  testTopics,
  uniquePrefix,
  waitForGroupCaughtUp,
} from '../support/kafka.js';

const PARTITIONS = 4;
const CLICKS = 2_000;

/** Sum of a metric's samples per `thread` label, from the process's one /metrics. */
function perThread(text: string, metric: string, match = ''): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) || !line.includes(match)) continue;
    const thread = /thread="(\d+)"/.exec(line)?.[1];
    assert.ok(thread !== undefined, `every series carries its thread: ${line}`);
    sums.set(thread, (sums.get(thread) ?? 0) + Number(line.split(' ').pop()));
  }
  return sums;
}

describe('eddy --threads 2', { skip: SKIP_KAFKA }, () => {
  let kafka: Kafka;
  let admin: Admin;
  let topics: TopicNames | null = null;

  before(async () => {
    kafka = testKafka('eddy-it-threads');
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    await killAll();
    if (topics) await deleteTopics(admin, topics);
    await admin.disconnect();
  });

  test('two pipelines share the partitions and one item model; one port; SIGTERM stops both', {
    timeout: 240_000,
  }, async () => {
    const prefix = uniquePrefix('threads');
    topics = testTopics(prefix);
    await ensureTopics(admin, eddyTopicSpecs(topics, PARTITIONS), { replicationFactor: 1 });
    const eddy = startEddy([
      '--kafka-brokers',
      BROKERS,
      '--topic-prefix',
      prefix,
      '--group-id',
      prefix,
      '--instance-id',
      'box',
      '--threads',
      '2',
      '--partitions',
      String(PARTITIONS),
      '--batch-size',
      '20',
      '--kafka-session-timeout',
      '6s',
      '--http-port',
      '0',
      '--log-format',
      'json',
      '--summary-every',
      '1h',
    ]);
    const started = await eddy.waitForStderrLine(
      (l) => l.includes('"eddy started"') && l.includes('"threads":2'),
      60_000,
    );
    const port = metricsPort(parseLogLine(started));
    // Both threads in the group, each with a transactional id of its own.
    const joined = Date.now() + 60_000;
    for (;;) {
      const { groups } = await admin.describeGroups([prefix]);
      if (groups[0]?.state === 'Stable' && groups[0].members.length === 2) break;
      assert.ok(Date.now() < joined, 'two members join the group');
      await sleep(200);
    }
    for (const thread of [0, 1]) {
      await eddy.waitForStderrLine((l) => l.includes(`"transactionalId":"${prefix}.box-t${thread}"`), 10_000);
    }

    const events = [
      ...syntheticStream({
        seed: 5,
        users: 120,
        items: 150,
        categories: 6,
        events: CLICKS,
        startTime: Date.UTC(2021, 0, 1),
        contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
      }),
    ];
    const producer = feedProducer(kafka);
    await producer.connect();
    await feed(producer, events, { encode: singleObjectEncoder(topics), rate: 2_000 });
    await producer.disconnect();
    await waitForGroupCaughtUp(admin, prefix, [topics.clicks, topics.items], 120_000, () => {
      if (eddy.child.exitCode !== null) throw new Error(`eddy exited:\n${eddy.stderr()}`);
    });
    assert.equal(await groupLag(admin, prefix, [topics.clicks, topics.items]), 0);

    const engaged = events.filter(
      (e) => e.kind === 'click' && engagementStrength(DEFAULT_MODEL_CONFIG, e.event.type) > 0,
    ).length;
    let text = '';
    const applied = Date.now() + 60_000;
    for (;;) {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const increments = perThread(text, 'eddy_item_model_increments_applied_total');
      if ([...increments.values()].every((n) => n === engaged) && increments.size === 2) break;
      assert.ok(Date.now() < applied, `each thread applies all ${engaged} increments: ${[...increments]}`);
      await sleep(250);
    }
    // The group split the clicks between the threads; together they processed each once.
    const clicks = perThread(text, 'eddy_events_total', 'kind="click"');
    assert.equal(clicks.size, 2);
    assert.ok(
      [...clicks.values()].every((n) => n > 0),
      `both threads processed clicks: ${[...clicks]}`,
    );
    assert.equal(
      [...clicks.values()].reduce((a, b) => a + b, 0),
      CLICKS,
    );
    const lists = decodeLists(await readCommitted(kafka, admin, topics.recommendations));
    assert.ok(lists.length > 0);
    assert.equal(new Set(lists.map((l) => l.listId)).size, lists.length, 'no list committed twice');

    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    // An interactive query on the process's port reaches the thread that owns the user.
    const user = lists[lists.length - 1]!.userId;
    const answer = await fetch(`http://127.0.0.1:${port}/v1/users/${user}/recommendations`);
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.ok(((await answer.json()) as { items: unknown[] }).items.length > 0);

    eddy.child.kill('SIGTERM');
    assert.equal((await eddy.waitForExit(60_000)).code, 0, eddy.stderr());
    const stopped = eddy.stderrLines().filter((l) => l.includes('in-flight batch committed'));
    assert.equal(stopped.length, 2, 'each thread committed its batch in flight and stopped');
  });
});
