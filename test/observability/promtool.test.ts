import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  describeRun,
  NO_PROMTOOL,
  PROMETHEUS_CONFIG,
  PROMTOOL,
  RULES_FILE,
  RULES_TEST_FILE,
  ruleExpressions,
  runTool,
  scrapeEmbeddedEddy,
} from '../support/prometheus.js';

/**
 * Prometheus's own linter and rule tester on Eddy's artefacts: the /metrics exposition of a real
 * run, the scrape configuration, the rule file, and its unit tests. Skipped (with the reason)
 * when promtool is not installed; .ci/run installs it.
 */

if (NO_PROMTOOL) process.stderr.write(`\n!!! observability: ${NO_PROMTOOL}: promtool checks SKIPPED\n\n`);

async function promtool(args: readonly string[], stdin?: string): Promise<void> {
  const run = await runTool(PROMTOOL!, args, stdin === undefined ? {} : { stdin });
  assert.equal(run.code, 0, describeRun('promtool', args, run));
}

test('promtool check metrics passes on the /metrics of a running Eddy', { skip: NO_PROMTOOL }, async () => {
  const scrape = await scrapeEmbeddedEddy();
  assert.match(scrape, /^eddy_events_total\{/m);
  await promtool(['check', 'metrics'], scrape);
});

test('promtool check config passes on infra/prometheus/prometheus.yml and the rule files it loads', {
  skip: NO_PROMTOOL,
}, async () => {
  await promtool(['check', 'config', PROMETHEUS_CONFIG]);
});

test('promtool check rules passes, and finds every rule the PromQL tests read', {
  skip: NO_PROMTOOL,
}, async () => {
  const run = await runTool(PROMTOOL!, ['check', 'rules', RULES_FILE]);
  assert.equal(run.code, 0, describeRun('promtool', ['check', 'rules', RULES_FILE], run));
  const found = /SUCCESS: (\d+) rules found/.exec(run.stdout + run.stderr);
  assert.ok(found, run.stdout);
  assert.equal(ruleExpressions(readFileSync(RULES_FILE, 'utf8')).length, Number(found[1]));
});

test('promtool test rules passes: every alert fires when it should and stays quiet when it should not', {
  skip: NO_PROMTOOL,
}, async () => {
  await promtool(['test', 'rules', RULES_TEST_FILE]);
});

test('every alert has a firing and a non-firing case in the rule tests', () => {
  const alerts = ruleExpressions(readFileSync(RULES_FILE, 'utf8'))
    .filter((r) => r.rule.startsWith('alert: '))
    .map((r) => r.rule.slice('alert: '.length));
  assert.ok(alerts.length >= 6, `alerts: ${alerts.join(', ')}`);
  const firing = new Set<string>();
  const quiet = new Set<string>();
  const lines = readFileSync(RULES_TEST_FILE, 'utf8').split('\n');
  lines.forEach((line, i) => {
    const name = /^\s*alertname:\s*(\S+)\s*$/.exec(line)?.[1];
    if (!name) return;
    const expected = lines.slice(i + 1).find((l) => /^\s*exp_alerts:/.test(l)) ?? '';
    (/exp_alerts:\s*\[\]/.test(expected) ? quiet : firing).add(name);
  });
  for (const alert of alerts) {
    assert.ok(firing.has(alert), `${alert} has no case where it fires`);
    assert.ok(quiet.has(alert), `${alert} has no case where it stays quiet`);
  }
  for (const name of [...firing, ...quiet])
    assert.ok(alerts.includes(name), `tests name unknown alert ${name}`);
});
