import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import {
  type DashboardFile,
  dashboardQueries,
  type Family,
  loadDashboards,
  parseExposition,
  type Query,
  queryPanels,
  RULES_FILE,
  ruleExpressions,
  sampleNames,
  scrapeEmbeddedEddy,
  substituteVariables,
  variableQuery,
} from '../support/prometheus.js';

/**
 * Every PromQL expression in dashboards/*.json and the rule file parses, and names only series
 * that Eddy exports (checked against a real /metrics scrape), recording rules define, or
 * Prometheus itself writes (`up`). A renamed metric therefore fails here, not on a blank panel.
 */

/** How a panel names the dashboard's `datasource` variable (Grafana syntax, not a JS template). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable reference
const DATASOURCE_UID = '${datasource}';

/** Series Prometheus writes for every target, not Eddy. */
const PROMETHEUS_SERIES = new Set(['up']);

/** Lezer's syntax node, named through the parser so the test needs no direct @lezer/common import. */
type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

interface Selector {
  /** The metric name, or null when the selector has none (`{__name__=~"…"}`). */
  readonly name: string | null;
  readonly text: string;
}

interface Parsed {
  readonly selectors: Selector[];
  readonly errors: string[];
}

/** Lezer never throws: a syntax error is an error node in the tree, reported here with its position. */
function parsePromQL(expr: string): Parsed {
  const tree = parser.parse(expr);
  const selectors: Selector[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(ref) {
      if (ref.type.isError) {
        const near = expr.slice(Math.max(0, ref.from - 10), ref.to + 10);
        errors.push(`syntax error at ${ref.from}: …${near}…`);
        return;
      }
      if (ref.name === 'VectorSelector') selectors.push(selectorOf(ref.node, expr));
    },
  });
  return { selectors, errors };
}

function selectorOf(node: SyntaxNode, expr: string): Selector {
  const text = expr.slice(node.from, node.to);
  const identifier = node.getChild('Identifier');
  if (identifier) return { name: expr.slice(identifier.from, identifier.to), text };
  const byName = /__name__\s*=\s*"([^"]+)"/.exec(text);
  return { name: byName ? byName[1]! : null, text };
}

/** Ranges like `[$__rate_interval]` are not PromQL until Grafana substitutes them; labels values are strings. */
function asPromQL(expr: string): string {
  return substituteVariables(expr, { job: '$job', instance: '$instance' });
}

let exported: Set<string>;
let families: Map<string, Family>;
let dashboards: DashboardFile[];
let rules: { rule: string; expr: string }[];

before(async () => {
  families = parseExposition(await scrapeEmbeddedEddy());
  exported = sampleNames(families);
  dashboards = loadDashboards();
  rules = ruleExpressions(readFileSync(RULES_FILE, 'utf8'));
});

test('the dashboards and the rule file hold PromQL to check', () => {
  assert.deepEqual(
    dashboards.map((d) => d.file),
    ['eddy-dependencies.json', 'eddy-overview.json', 'eddy-quality.json'],
  );
  for (const d of dashboards) assert.ok(dashboardQueries(d).length >= 10, d.file);
  assert.ok(rules.some((r) => r.rule.startsWith('alert: ')));
  assert.ok(rules.some((r) => r.rule.startsWith('record: ')));
});

test('every dashboard and rule expression parses and names only series Eddy exports', () => {
  const recorded = new Set(
    rules.filter((r) => r.rule.startsWith('record: ')).map((r) => r.rule.slice('record: '.length)),
  );
  const queries: Query[] = [
    ...dashboards.flatMap(dashboardQueries),
    ...rules.map((r) => ({ where: `eddy.rules.yml › ${r.rule}`, expr: r.expr, panel: null })),
  ];
  const problems: string[] = [];
  let checked = 0;
  for (const q of queries) {
    const { selectors, errors } = parsePromQL(asPromQL(q.expr));
    for (const error of errors) problems.push(`${q.where}: ${error}\n    ${q.expr}`);
    if (selectors.length === 0) problems.push(`${q.where}: no series selector in ${q.expr}`);
    for (const s of selectors) {
      checked++;
      if (s.name === null) problems.push(`${q.where}: selector without a metric name: ${s.text}`);
      else if (!exported.has(s.name) && !recorded.has(s.name) && !PROMETHEUS_SERIES.has(s.name))
        problems.push(`${q.where}: ${s.name} is not exported by Eddy (selector ${s.text})`);
    }
  }
  assert.deepEqual(problems, [], `${problems.length} problem(s):\n${problems.join('\n')}`);
  assert.ok(checked > 50, `only ${checked} selectors checked`);
});

test('a syntax error and an unknown metric are caught (the checker itself works)', () => {
  assert.notDeepEqual(parsePromQL('sum(rate(eddy_events_total[5m])').errors, []);
  assert.deepEqual(parsePromQL('sum by (le) (rate(eddy_freshness_seconds_bucket{le="1"}[5m]))').errors, []);
  const names = parsePromQL(asPromQL('eddy_nope_total / on() eddy_events_total{job=~"$job"}[$__range]'));
  assert.deepEqual(
    names.selectors.map((s) => s.name),
    ['eddy_nope_total', 'eddy_events_total'],
  );
  assert.equal(exported.has('eddy_nope_total'), false);
});

test('every Eddy metric family has samples and appears on a dashboard', () => {
  const onDashboards = new Set<string>();
  for (const d of dashboards)
    for (const q of dashboardQueries(d))
      for (const s of parsePromQL(asPromQL(q.expr)).selectors) if (s.name) onDashboards.add(s.name);
  const problems: string[] = [];
  for (const f of families.values()) {
    // prom-client's process metrics have a series per kind of handle or request in use, so none
    // when there is none; they are there for ad-hoc queries and the dashboards show a few.
    if (/^eddy_(process|nodejs)_/.test(f.name)) continue;
    if (f.samples.length === 0) problems.push(`${f.name}: no samples`);
    if (!f.samples.some((s) => onDashboards.has(s.name))) problems.push(`${f.name}: on no dashboard`);
  }
  assert.deepEqual(problems, []);
});

test('dashboards: datasource and job/instance variables, every panel described with a unit and thresholds', () => {
  const problems: string[] = [];
  for (const d of dashboards) {
    const vars = new Map((d.json.templating?.list ?? []).map((v) => [v.name, v]));
    const ds = vars.get('datasource');
    if (ds?.type !== 'datasource' || (ds as { query?: unknown }).query !== 'prometheus')
      problems.push(`${d.file}: no "datasource" variable of type datasource (prometheus)`);
    for (const name of ['job', 'instance']) {
      const v = vars.get(name);
      if (v?.type !== 'query' || !variableQuery(v)?.startsWith('label_values('))
        problems.push(`${d.file}: no $${name} query variable`);
      if (v && v.datasource?.uid !== DATASOURCE_UID) problems.push(`${d.file}: $${name} ignores $datasource`);
    }
    if (!d.json.uid || !d.json.title) problems.push(`${d.file}: uid and title are required`);
    for (const panel of queryPanels(d.json)) {
      const at = `${d.file} › ${panel.title ?? '(untitled)'}`;
      if (!panel.title) problems.push(`${at}: no title`);
      if (!panel.description || panel.description.length < 20) problems.push(`${at}: no description`);
      if (panel.datasource?.uid !== DATASOURCE_UID) problems.push(`${at}: datasource is not $datasource`);
      const defaults = panel.fieldConfig?.defaults;
      if (!defaults?.unit) problems.push(`${at}: no unit`);
      if (!defaults?.thresholds?.steps?.length) problems.push(`${at}: no thresholds`);
      if (!panel.targets?.length) problems.push(`${at}: no queries`);
      for (const t of panel.targets ?? []) {
        if (t.datasource?.uid !== DATASOURCE_UID)
          problems.push(`${at} › ${t.refId}: datasource is not $datasource`);
        for (const s of parsePromQL(asPromQL(t.expr ?? '')).selectors) {
          if (s.name === 'up') continue;
          if (!s.text.includes('job=~"$job"') || !s.text.includes('instance=~"$instance"'))
            problems.push(`${at} › ${t.refId}: ${s.text} does not filter by $job and $instance`);
        }
      }
    }
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});
