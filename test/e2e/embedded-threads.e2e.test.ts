// The embedded `eddy --threads 2`: one process, the in-process log in the main thread, two pipeline
// threads each owning half the partitions. Together they process every click once, each thread's
// replica of the item model applies every engaged click (its own and the other thread's), one
// HTTP port serves both threads' metrics (labelled by thread) and routes a query to the thread
// owning the user, the run's summary merges both, and SIGTERM stops both gracefully.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MODEL_CONFIG, engagementStrength } from '../../streams/model/model-config.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { killAll, metricsPort, parseLogLine, startEddy } from '../support/cli.js';

after(killAll);

const EVENTS = 3_000;
const USERS = 100;
const ITEMS = 200;

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

test('two embedded pipeline threads split the clicks, share one item model, answer on one port and stop on SIGTERM', {
  timeout: 120_000,
}, async () => {
  const eddy = startEddy([
    '--threads',
    '2',
    '--events',
    String(EVENTS),
    '--users',
    String(USERS),
    '--items',
    String(ITEMS),
    '--http-port',
    '0',
    '--log-format',
    'json',
    '--summary-every',
    '1h',
    '--examples',
    '1',
    '--follow',
  ]);
  const started = parseLogLine(
    await eddy.waitForStderrLine((l) => l.includes('"eddy started"') && l.includes('"threads":2'), 30_000),
  );
  const port = metricsPort(started);
  const finished = parseLogLine(await eddy.waitForStderrLine((l) => l.includes('"finished: '), 90_000));
  assert.match(String(finished.msg), /^finished: 3,000 events in \d+\.\ds$/);
  assert.ok(Number(finished.users) > 0 && Number(finished.users) <= USERS, `users ${finished.users}`);
  assert.ok(Number(finished.lists) > 0);
  await eddy.waitForStderrLine((l) => l.includes('still serving'), 30_000);
  // The thread renders its examples and the supervisor writes them, so they come first.
  const lines = eddy.stderrLines();
  const exampleAt = lines.findIndex((l) => l.includes('"example list"'));
  assert.ok(exampleAt >= 0, 'the first thread printed an example list');
  assert.ok(
    exampleAt < lines.findIndex((l) => l.includes('still serving')),
    'examples before "still serving"',
  );
  assert.equal(parseLogLine(lines[exampleAt]!).thread, 0, 'from the first thread');

  // The same stream the command replays (its defaults: seed 42, content vectors of the model's size).
  const events = [
    ...syntheticStream({
      seed: 42,
      users: USERS,
      items: ITEMS,
      events: EVENTS,
      contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
    }),
  ];
  const engaged = events.filter(
    (e) => e.kind === 'click' && engagementStrength(DEFAULT_MODEL_CONFIG, e.event.type) > 0,
  ).length;
  let text = '';
  const applied = Date.now() + 30_000;
  for (;;) {
    text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const increments = perThread(text, 'eddy_item_model_increments_applied_total');
    if (increments.size === 2 && [...increments.values()].every((n) => n === engaged)) break;
    assert.ok(Date.now() < applied, `each thread applies all ${engaged} increments: ${[...increments]}`);
    await sleep(100);
  }
  const clicks = perThread(text, 'eddy_events_total', 'kind="click"');
  assert.equal(clicks.size, 2);
  assert.ok(
    [...clicks.values()].every((n) => n > 0),
    `both threads processed clicks: ${[...clicks]}`,
  );
  assert.equal(
    [...clicks.values()].reduce((a, b) => a + b, 0),
    EVENTS,
    'every click processed once',
  );

  // Readiness is the threads' polled state: ready within a poll of every thread being ready.
  const ready = Date.now() + 5_000;
  while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) {
    assert.ok(Date.now() < ready, '/readyz answers 200 once both threads are ready');
    await sleep(100);
  }
  // Each user's query reaches the thread that owns the user's partition, which knows the user.
  const clickers = [...new Set(events.flatMap((e) => (e.kind === 'click' ? [e.event.userId] : [])))];
  for (const user of clickers.slice(0, 8)) {
    const answer = await fetch(`http://127.0.0.1:${port}/v1/users/${user}/state`);
    assert.equal(answer.status, 200, `${user}: ${await answer.clone().text()}`);
  }

  eddy.child.kill('SIGTERM');
  assert.deepEqual(await eddy.waitForExit(15_000), { code: 0, signal: null }, eddy.stderr());
});
