import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EDDY_SETTINGS } from '../../streams/cli/eddy-settings.js';
import {
  type EddyProcess,
  killAll,
  type LogLine,
  metricsPort,
  parseLogLine,
  runEddy,
  startEddy,
} from '../support/cli.js';

/**
 * The `eddy` command as a user runs it: a separate process on dist/streams/cli/eddy.js, from the
 * repository root. Runs are kept small (a few thousand events) so the file stays well under a minute.
 */

after(killAll);

/** A small synthetic run that still exercises every stage. */
const SMALL = ['--users', '100', '--items', '200', '--http-port', '0', '--log-format', 'json'] as const;
/** A graceful stop must not take longer than this. */
const STOP_WITHIN_MS = 10_000;

function jsonLines(stderr: string): LogLine[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map(parseLogLine);
}

function find(lines: readonly LogLine[], predicate: (l: LogLine) => boolean, what: string): LogLine {
  const line = lines.find(predicate);
  assert.ok(line, `no ${what} log line in:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
  return line;
}

async function stopped(eddy: EddyProcess): Promise<void> {
  if (eddy.child.exitCode === null && eddy.child.signalCode === null) {
    eddy.child.kill('SIGKILL');
    await eddy.exited;
  }
}

async function get(port: number, path: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    if (error instanceof Error && error.name === 'TimeoutError') {
      throw new Error(`GET ${path} got no answer within ${timeoutMs} ms`);
    }
    throw error;
  }
}

/** Input records processed so far, per /metrics (every kind and type). */
function processedEvents(metrics: string): number {
  let total = 0;
  for (const [, count] of metrics.matchAll(/^eddy_events_total\{[^}]*outcome="processed"[^}]*\} (\d+)$/gm)) {
    total += Number(count);
  }
  return total;
}

test('--help prints the usage and every flag with its variable and form, and exits 0', async () => {
  const { code, stdout, stderr } = await runEddy(['--help']);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Usage: /);
  assert.match(stdout, /--help\s+show this help/);
  for (const setting of Object.values(EDDY_SETTINGS)) {
    assert.ok(stdout.includes(`--${setting.flag}`), `--${setting.flag} missing from --help`);
    assert.ok(stdout.includes(setting.env), `${setting.env} missing from --help`);
    assert.ok(stdout.includes(setting.expected), `form of --${setting.flag} missing from --help`);
    assert.ok(stdout.includes(setting.description), `description of --${setting.flag} missing from --help`);
  }
  assert.equal(stderr, '');
});

test('every default shown by --help is a value its flag accepts', async () => {
  const { stdout } = await runEddy(['--help']);
  for (const setting of Object.values(EDDY_SETTINGS)) {
    const row = new RegExp(`^ {2}--${setting.flag}\\b.*\\(default: (.*)\\)$`, 'm').exec(stdout);
    assert.ok(row, `no default shown for --${setting.flag}`);
    const shown = row[1]!;
    assert.notEqual(setting.parse(shown), undefined, `--${setting.flag} ${shown} is rejected`);
  }
});

interface InvalidCase {
  readonly name: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Everything the message must name: the flag, the variable, the expected form, the bad value. */
  readonly mentions: readonly string[];
}

const INVALID: readonly InvalidCase[] = [
  {
    name: '--events -5',
    args: ['--events', '-5'],
    mentions: ['--events', 'EDDY_EVENTS', 'an integer ≥ 0', '"-5"'],
  },
  {
    name: '--events=-5',
    args: ['--events=-5'],
    mentions: ['--events', 'EDDY_EVENTS', 'an integer ≥ 0', '"-5"'],
  },
  {
    name: 'EDDY_HTTP_PORT=99999',
    args: [],
    env: { EDDY_HTTP_PORT: '99999' },
    mentions: ['EDDY_HTTP_PORT', '--http-port', 'an integer 0–65535', '"99999"'],
  },
  {
    name: '--dataset nope',
    args: ['--dataset', 'nope'],
    mentions: ['--dataset', 'EDDY_DATASET', '"synthetic" or "movielens"', '"nope"'],
  },
  {
    name: '--summary-every 5 (no unit)',
    args: ['--summary-every', '5'],
    mentions: ['--summary-every', 'EDDY_SUMMARY_EVERY', 'a duration such as 5s', '"5"'],
  },
];

for (const c of INVALID) {
  test(`an invalid setting (${c.name}) exits 2 naming the flag, the variable and the form`, async () => {
    const { code, stdout, stderr } = await runEddy(c.args, c.env ? { env: c.env } : {});
    assert.equal(code, 2, stderr);
    for (const text of c.mentions)
      assert.ok(stderr.includes(text), `message does not name ${text}:\n${stderr}`);
    assert.match(stderr, /--help/);
    assert.doesNotMatch(stderr, /eddy started/);
    assert.equal(stdout, '');
  });
}

test('a metrics port already in use exits 2 naming --http-port, without a stack trace', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, resolve));
  const { port } = taken.address() as AddressInfo;
  try {
    const { code, stderr } = await runEddy([
      ...SMALL.filter((a) => a !== '0' && a !== '--http-port'),
      '--http-port',
      String(port),
      '--events',
      '100',
    ]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--http-port/);
    assert.match(stderr, /EDDY_HTTP_PORT/);
    assert.match(stderr, new RegExp(`${port}: already in use`));
    assert.doesNotMatch(stderr, /EADDRINUSE|at .*\.js:\d+/);
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test('an unknown flag exits 2 naming it and pointing at --help', async () => {
  const { code, stdout, stderr } = await runEddy(['--bogus', '1']);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /--bogus/);
  assert.match(stderr, /Run with --help for the list of settings/);
  assert.equal(stdout, '');
});

test('--dataset movielens on a missing folder exits 2 with a dataset error', async () => {
  const { code, stdout, stderr } = await runEddy([
    '--dataset',
    'movielens',
    '--path',
    '/nonexistent',
    '--log-format',
    'json',
    '--http-port',
    '0',
  ]);
  assert.equal(code, 2, stderr);
  const lines = jsonLines(stderr);
  const error = find(lines, (l) => l.level === 'error', 'error');
  assert.equal(error.msg, 'cannot read the dataset');
  assert.equal(error.dataset, 'movielens');
  assert.equal(error.path, '/nonexistent');
  assert.match(String(error.reason), /not found at \/nonexistent/);
  assert.ok(!lines.some((l) => l.msg === 'eddy started'), 'it must fail before starting');
  assert.equal(stdout, '');
});

test('a short run exits 0, logs JSON lines ending in a summary, and prints example lists', async () => {
  const { code, stdout, stderr } = await runEddy(['--events', '3000', ...SMALL, '--summary-every', '1s']);
  assert.equal(code, 0, stderr);
  const lines = jsonLines(stderr);
  for (const line of lines) {
    assert.ok(['debug', 'info', 'warn', 'error'].includes(line.level), JSON.stringify(line));
    assert.ok(!Number.isNaN(Date.parse(line.time)), JSON.stringify(line));
  }
  metricsPort(find(lines, (l) => l.msg === 'eddy started', '"eddy started"'));
  const finished = find(lines, (l) => l.msg.startsWith('finished'), '"finished"');
  assert.match(finished.msg, /^finished: 3,000 events in \d+\.\ds$/);
  assert.equal(typeof finished.eventsPerSec, 'number');
  assert.ok(Number(finished.eventsPerSec) > 0, `eventsPerSec ${finished.eventsPerSec}`);
  assert.equal(typeof finished.hitRate, 'number');
  assert.ok(Number(finished.hitRate) >= 0 && Number(finished.hitRate) <= 1, `hitRate ${finished.hitRate}`);
  assert.ok(Number(finished.lists) > 0);
  assert.equal(finished.deadLetters, 0);
  // The progress fields are explained once, at start.
  const legend = find(lines, (l) => l.msg.startsWith('progress every'), 'the legend of the progress fields');
  for (const field of ['hitRate', 'latency', 'freshnessP99'])
    assert.equal(typeof legend[field], 'string', field);

  // With JSON logs, the example lists are log lines too (three: the default --examples), after the
  // summary; stdout stays empty.
  assert.equal(stdout, '');
  const examples = lines.filter((l) => l.msg === 'example list');
  assert.equal(examples.length, 3);
  assert.deepEqual(lines.slice(-4), [finished, ...examples], 'the summary, then the examples, end the run');
  for (const example of examples) {
    const items = example.items as { rank: number; itemId: string; title: string; score: number }[];
    assert.ok(items.length > 0);
    assert.deepEqual(
      items.map((i) => i.rank),
      items.map((_, i) => i + 1),
    );
    for (const item of items) assert.equal(typeof item.title, 'string');
  }
});

test('on a terminal-style log, example lists are printed readably, saying why scores are not in rank order', async () => {
  const args = [...SMALL.filter((a) => a !== 'json'), 'pretty', '--events', '1500', '--summary-every', '1h'];
  const { code, stdout, stderr } = await runEddy(args);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /Example lists/);
  assert.match(
    stdout,
    /order is chosen by\s+diversification \(MMR\), so a lower score can rank above a higher one/,
  );
  // Three users (the default --examples), each with a ranked list.
  assert.equal(stdout.match(/^ {2}\S+ — \d+ events; recently: /gm)?.length, 3, stdout);
  assert.match(stdout, /^ {4} 1\. .+ {2}\[[a-z_]+, -?\d+\.\d{3}\]$/m);
});

test('progress lines on the synthetic stream show the share done and an ETA', async () => {
  const { code, stderr } = await runEddy(['--events', '4000', ...SMALL, '--summary-every', '200ms']);
  assert.equal(code, 0, stderr);
  const progress = jsonLines(stderr).filter((l) => / events \(\d+%\)/.test(l.msg));
  assert.ok(progress.length > 0, stderr);
  for (const line of progress) assert.match(line.msg, /^[\d,]+ \/ 4,000 events \(\d+%\)(, ETA \d+s)?$/);
});

test('--follow keeps serving /metrics, /healthz and /readyz after the stream ends; SIGTERM exits 0', async () => {
  const eddy = startEddy(['--follow', '--events', '2000', ...SMALL, '--examples', '0']);
  try {
    const started = parseLogLine(await eddy.waitForStderrLine((l) => l.includes('"eddy started"'), 15_000));
    const port = metricsPort(started);
    await eddy.waitForStderrLine((l) => l.includes('still serving'), 20_000);
    // Still running after the stream ended.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(eddy.child.exitCode, null, 'eddy exited although --follow was given');

    const metrics = await get(port, '/metrics');
    assert.equal(metrics.status, 200);
    // With several pipeline threads (the default on a multi-core machine) each series carries its thread.
    assert.match(
      metrics.body,
      /^eddy_events_total\{kind="click",type="[a-z_]+",outcome="processed"(,thread="\d+")?\} \d+$/m,
    );
    const lists = [...metrics.body.matchAll(/^eddy_lists_emitted_total(?:\{thread="\d+"\})? (\d+)$/gm)];
    assert.ok(lists.length > 0, 'eddy_lists_emitted_total missing from /metrics');
    assert.ok(lists.reduce((total, [, count]) => total + Number(count), 0) > 0);
    for (const path of ['/healthz', '/readyz']) {
      const health = await get(port, path);
      assert.equal(health.status, 200, `${path}: ${health.body}`);
      assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
    }
    assert.equal((await get(port, '/nope')).status, 404);

    const signalledAt = Date.now();
    eddy.child.kill('SIGTERM');
    const exit = await eddy.waitForExit(STOP_WITHIN_MS);
    assert.deepEqual(exit, { code: 0, signal: null }, eddy.stderr());
    console.log(`--follow: exited ${Date.now() - signalledAt} ms after SIGTERM`);
    const stopping = find(jsonLines(eddy.stderr()), (l) => l.msg.startsWith('stopping'), '"stopping"');
    assert.equal(stopping.signal, 'SIGTERM');
  } finally {
    await stopped(eddy);
  }
});

test('SIGTERM in the middle of an endless run stops gracefully and exits 0', async () => {
  const eddy = startEddy(['--events', '0', ...SMALL, '--summary-every', '300ms', '--examples', '0']);
  try {
    // Mid-run: a progress summary with events and lists behind it.
    await eddy.waitForStderrLine((l) => {
      const line = parseLogLine(l);
      return /^[\d,]+ events$/.test(line.msg) && Number(line.lists) > 0;
    }, 20_000);
    const signalledAt = Date.now();
    eddy.child.kill('SIGTERM');
    const exit = await eddy.waitForExit(STOP_WITHIN_MS);
    assert.deepEqual(exit, { code: 0, signal: null }, eddy.stderr());
    console.log(`endless run: exited ${Date.now() - signalledAt} ms after SIGTERM`);

    const lines = jsonLines(eddy.stderr());
    const stopping = lines.findIndex((l) => l.msg.startsWith('stopping'));
    assert.ok(stopping >= 0, 'no graceful stop log line');
    assert.equal(lines[stopping]?.signal, 'SIGTERM');
    assert.match(lines[stopping]?.msg ?? '', /finishing the batch in flight and committing/);
    const finished = lines.findIndex((l) => l.msg.startsWith('finished'));
    assert.ok(finished > stopping, 'the final summary comes after the stop');
    assert.ok(Number(lines[finished]?.lists) > 0);
  } finally {
    await stopped(eddy);
  }
});

test('/metrics and /healthz answer promptly while a backlog is processed, and the event count grows', async () => {
  // Batches of 1000 keep thousands of records queued in the in-process log: a source that never
  // yields to the event loop leaves the HTTP server unanswered until the stream is drained.
  const eddy = startEddy(['--events', '1000000', '--batch-size', '1000', ...SMALL, '--examples', '0']);
  try {
    const started = parseLogLine(await eddy.waitForStderrLine((l) => l.includes('"eddy started"'), 15_000));
    const port = metricsPort(started);
    const counts: number[] = [];
    for (let scrape = 1; scrape <= 3; scrape++) {
      await sleep(250);
      const metrics = await get(port, '/metrics', 2_000);
      assert.equal(metrics.status, 200);
      const health = await get(port, '/healthz', 2_000);
      assert.equal(health.status, 200, health.body);
      assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
      counts.push(processedEvents(metrics.body));
      const ended = eddy.stderrLines().some((l) => parseLogLine(l).msg.startsWith('finished'));
      assert.ok(!ended, `the stream ended by scrape ${scrape}: make it longer so scrapes land mid-run`);
    }
    for (let i = 1; i < counts.length; i++) {
      assert.ok(counts[i]! > counts[i - 1]!, `eddy_events_total did not grow between scrapes: ${counts}`);
    }
  } finally {
    await stopped(eddy);
  }
});
