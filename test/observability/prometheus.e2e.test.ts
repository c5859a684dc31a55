import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { killAll, metricsPort, parseLogLine, startEddy } from '../support/cli.js';
import {
  dashboardQueries,
  loadDashboards,
  NO_PROMETHEUS,
  PROMETHEUS,
  RULES_FILE,
  substituteVariables,
} from '../support/prometheus.js';

/**
 * The dashboards against the real thing: the `eddy` command on an endless synthetic stream, and a
 * real Prometheus (its own process, temporary storage) scraping it every second with Eddy's alert
 * rules loaded. Every panel's query, with the template variables Grafana would fill in, must return
 * data through the HTTP API, and every rule must evaluate without error. Skipped (with the reason)
 * when Prometheus is not installed; .ci/run installs it.
 */

if (NO_PROMETHEUS)
  process.stderr.write(`\n!!! observability: ${NO_PROMETHEUS}: Prometheus end-to-end SKIPPED\n\n`);

const SCRAPE_INTERVAL = '1s';
/** Scrapes to wait for before querying: enough for rate() over the substituted $__rate_interval. */
const MIN_SCRAPES = 12;
const RATE_INTERVAL = '10s';

interface PromResponse<T> {
  readonly status: 'success' | 'error';
  readonly data: T;
  readonly error?: string;
}

interface InstantSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

interface RuleGroup {
  readonly name: string;
  readonly rules: readonly {
    readonly name: string;
    readonly health: string;
    readonly lastError?: string;
    readonly lastEvaluation: string;
  }[];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

class Prometheus {
  private log = '';
  private readonly exited: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.log = (this.log + chunk).slice(-20_000);
    });
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
  }

  logTail(): string {
    return this.log;
  }

  async get<T>(path: string, params: Readonly<Record<string, string>> = {}): Promise<PromResponse<T>> {
    const url = new URL(path, this.url);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return (await response.json()) as PromResponse<T>;
  }

  async query(expr: string): Promise<InstantSample[]> {
    const r = await this.get<{ resultType: string; result: InstantSample[] | [number, string] }>(
      '/api/v1/query',
      { query: expr },
    );
    if (r.status !== 'success') throw new Error(`query failed: ${r.error}\n  ${expr}`);
    if (r.data.resultType === 'scalar') return [{ metric: {}, value: r.data.result as [number, string] }];
    return r.data.result as InstantSample[];
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const response = await fetch(new URL('/-/ready', this.url), { signal: AbortSignal.timeout(2_000) });
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      if (this.child.exitCode !== null) throw new Error(`prometheus exited:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`prometheus not ready within ${timeoutMs} ms:\n${this.log}`);
      await sleep(200);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

function startPrometheus(dir: string, port: number, eddyTarget: string): Prometheus {
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${SCRAPE_INTERVAL}`,
      `  scrape_timeout: ${SCRAPE_INTERVAL}`,
      `  evaluation_interval: ${SCRAPE_INTERVAL}`,
      'rule_files:',
      `  - ${JSON.stringify(RULES_FILE)}`,
      'scrape_configs:',
      '  - job_name: eddy',
      '    static_configs:',
      `      - targets: [${JSON.stringify(eddyTarget)}]`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    PROMETHEUS!,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Prometheus(child, `http://127.0.0.1:${port}`);
}

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await killAll();
});

test('a real Prometheus scraping a running Eddy answers every dashboard panel with data', {
  skip: NO_PROMETHEUS,
  timeout: 120_000,
}, async () => {
  const eddy = startEddy([
    '--events',
    '0',
    '--follow',
    '--http-port',
    '0',
    '--summary-every',
    '1s',
    '--log-format',
    'json',
  ]);
  cleanups.push(async () => {
    eddy.child.kill('SIGKILL');
    await eddy.exited;
  });
  const started = parseLogLine(await eddy.waitForStderrLine((l) => l.includes('"eddy started"'), 30_000));
  const target = `127.0.0.1:${metricsPort(started)}`;

  const dir = mkdtempSync(join(tmpdir(), 'eddy-prometheus-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const prometheus = startPrometheus(dir, await freePort(), target);
  cleanups.push(() => prometheus.stop());
  await prometheus.waitReady(30_000);

  // Enough scrapes of an Eddy that is producing lists and scoring them.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [scrapes] = await prometheus.query(`count_over_time(eddy_ready{job="eddy"}[1m])`);
    const [evaluated] = await prometheus.query(`sum(rate(eddy_live_evaluations_total[${RATE_INTERVAL}]))`);
    if (Number(scrapes?.value[1] ?? 0) >= MIN_SCRAPES && Number(evaluated?.value[1] ?? 0) > 0) break;
    if (Date.now() > deadline)
      assert.fail(
        `Eddy was not scraped ${MIN_SCRAPES} times while working within 60 s\n` +
          `--- prometheus ---\n${prometheus.logTail()}\n--- eddy ---\n${eddy.stderr().slice(-4_000)}`,
      );
    await sleep(500);
  }
  const [up] = await prometheus.query(`up{job="eddy", instance="${target}"}`);
  assert.equal(up?.value[1], '1', 'Eddy target is up');

  const empty: string[] = [];
  const notFinite: string[] = [];
  let queried = 0;
  for (const d of loadDashboards()) {
    for (const q of dashboardQueries(d)) {
      const expr = substituteVariables(q.expr, {
        job: 'eddy',
        instance: target,
        rateInterval: RATE_INTERVAL,
      });
      const result = await prometheus.query(expr);
      queried++;
      if (result.length === 0) {
        empty.push(`${q.where}\n    ${expr}`);
        continue;
      }
      // Without Kafka its latency quantiles are 0/0 (no requests): NaN, the honest answer.
      const finite = result.some((s) => Number.isFinite(Number(s.value[1])));
      if (!finite && !/eddy_kafka_/.test(q.expr))
        notFinite.push(`${q.where} = ${result.map((s) => s.value[1]).join(', ')}\n    ${expr}`);
    }
  }
  assert.deepEqual(
    empty,
    [],
    `${empty.length} of ${queried} dashboard queries returned no data:\n${empty.join('\n')}`,
  );
  assert.deepEqual(notFinite, [], `queries with only NaN/Inf values:\n${notFinite.join('\n')}`);

  // The rules loaded and evaluate cleanly against real series (wait for one evaluation of each).
  let groups: readonly RuleGroup[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const rules = await prometheus.get<{ groups: RuleGroup[] }>('/api/v1/rules');
    groups = rules.data.groups;
    if (groups.every((g) => g.rules.every((r) => !r.lastEvaluation.startsWith('0001')))) break;
    await sleep(500);
  }
  const rules = groups.flatMap((g) => g.rules);
  assert.ok(rules.length >= 10, `rules loaded: ${rules.map((r) => r.name).join(', ')}`);
  const unhealthy = rules
    .filter((r) => r.health !== 'ok')
    .map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
  assert.deepEqual(unhealthy, []);
  // A healthy, busy Eddy is ready and has a freshness SLI to report.
  const [ready] = await prometheus.query(`eddy_ready{instance="${target}"}`);
  assert.equal(ready?.value[1], '1');
  const sli = await prometheus.query('job:eddy_freshness_slow_lists:ratio_rate5m');
  assert.equal(sli.length, 1, 'the freshness SLI recording rule has a value');
  console.log(
    `prometheus e2e: ${queried} dashboard queries answered with data; ${rules.length} rules healthy; ` +
      `lists slower than 1 s over 5 min: ${sli[0]?.value[1]}`,
  );
});
