import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { startHttpServer } from '../../streams/observe/http-server.js';
import { EddyMetrics } from '../../streams/observe/metrics.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { REPO_ROOT } from './cli.js';
import { runPrefed, testOptions } from './embedded-run.js';

/**
 * What the observability tests share: the Prometheus tools (found, never assumed), Eddy's real
 * /metrics output, and the PromQL held by the dashboards and the rule files.
 */

export const DASHBOARDS_DIR = join(REPO_ROOT, 'dashboards');
export const PROMETHEUS_CONFIG = join(REPO_ROOT, 'infra', 'prometheus', 'prometheus.yml');
export const RULES_FILE = join(REPO_ROOT, 'infra', 'prometheus', 'rules', 'eddy.rules.yml');
export const RULES_TEST_FILE = join(REPO_ROOT, 'infra', 'prometheus', 'rules', 'eddy.rules.test.yml');

/** `$envVar` when it names an executable, else `name` on the PATH, else null. */
export function findBinary(envVar: string, name: string): string | null {
  const candidates: string[] = [];
  const fromEnv = process.env[envVar];
  if (fromEnv) candidates.push(fromEnv);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there: try the next one.
    }
  }
  return null;
}

export const PROMTOOL = findBinary('PROMTOOL_BIN', 'promtool');
export const PROMETHEUS = findBinary('PROMETHEUS_BIN', 'prometheus');

const INSTALL_HINT =
  'install the Debian package "prometheus" (apt-get install -y prometheus; .ci/run does) or set ' +
  'PROMTOOL_BIN/PROMETHEUS_BIN';
/** A skip reason for `test(..., { skip })`: false when the tool is there. */
export const NO_PROMTOOL: string | false = PROMTOOL ? false : `promtool not found: ${INSTALL_HINT}`;
export const NO_PROMETHEUS: string | false = PROMETHEUS ? false : `prometheus not found: ${INSTALL_HINT}`;

export interface ToolRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a tool to completion, feeding `stdin` when given; kills it after `timeoutMs`. */
export function runTool(
  bin: string,
  args: readonly string[],
  options: { stdin?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: options.cwd ?? REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** `bin args…` with its output, for assertion messages. */
export function describeRun(bin: string, args: readonly string[], run: ToolRun): string {
  return `${bin} ${args.join(' ')} exited ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;
}

// ---------------------------------------------------------------------------------------------
// Eddy's exposition

/**
 * /metrics of a real embedded Eddy, over HTTP as Prometheus reads it, after a short synthetic run
 * with a few undecodable records (so dead-letter series have moved too).
 */
export async function scrapeEmbeddedEddy(): Promise<string> {
  const metrics = new EddyMetrics();
  const events: StreamEvent[] = [...syntheticStream({ seed: 7, users: 80, items: 150, events: 2_000 })];
  const options = testOptions({ metrics, clock: undefined });
  const bad = [
    { topic: 'eddy.clicks', key: 'user-bad', value: Uint8Array.from([1, 2, 3]) },
    { topic: 'eddy.clicks', key: 'user-bad', value: null },
  ];
  const eddy = await runPrefed(events, options, bad);
  const http = await startHttpServer(0, metrics.registry, { live: () => true, ready: () => true });
  try {
    metrics.readinessFrom(() => true);
    const response = await fetch(`http://127.0.0.1:${http.port}/metrics`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
    return await response.text();
  } finally {
    await http.close();
    await eddy.stop();
  }
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The text exposition format, by family (HELP/TYPE lines) with its samples. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]!);
      families.set(f.name, meta[1] === 'HELP' ? { ...f, help: meta[3]! } : { ...f, type: meta[3]! });
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const name = m[1]!;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(LABEL_PAIR)) labels[pair[1]!] = pair[2]!;
    const owner = familyOf(name, families);
    family(owner).samples.push({ name, labels, value: Number(m[3]) });
  }
  return families;
}

/** The family a sample belongs to: histograms and summaries add suffixes to theirs. */
function familyOf(sampleName: string, families: ReadonlyMap<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const f = families.get(base);
    if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
  }
  return sampleName;
}

/** Every series name a scrape of this exposition stores in Prometheus. */
export function sampleNames(families: ReadonlyMap<string, Family>): Set<string> {
  const names = new Set<string>();
  for (const f of families.values()) for (const s of f.samples) names.add(s.name);
  return names;
}

// ---------------------------------------------------------------------------------------------
// Dashboards and rules

export interface Query {
  /** Where it comes from, for messages: `file › panel › refId`. */
  readonly where: string;
  readonly expr: string;
  /** The panel's title, null for a templating query. */
  readonly panel: string | null;
}

export interface DashboardFile {
  readonly file: string;
  readonly json: Dashboard;
}

/** The parts of Grafana's dashboard model these tests read. */
export interface Dashboard {
  readonly uid?: string;
  readonly title?: string;
  readonly panels?: readonly Panel[];
  readonly templating?: { readonly list?: readonly TemplateVariable[] };
}

export interface Panel {
  readonly type: string;
  readonly title?: string;
  readonly description?: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly panels?: readonly Panel[];
  readonly targets?: readonly {
    readonly expr?: string;
    readonly refId?: string;
    readonly datasource?: { readonly type?: string; readonly uid?: string };
  }[];
  readonly fieldConfig?: {
    readonly defaults?: {
      readonly unit?: string;
      readonly thresholds?: { readonly mode?: string; readonly steps?: readonly unknown[] };
    };
  };
}

export interface TemplateVariable {
  readonly name: string;
  readonly type: string;
  readonly query?: string | { readonly query?: string };
  readonly datasource?: { readonly type?: string; readonly uid?: string };
}

export function loadDashboards(): DashboardFile[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      json: JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard,
    }));
}

/** Every panel with queries, rows flattened (a collapsed row keeps its panels inside it). */
export function queryPanels(dashboard: Dashboard): Panel[] {
  const out: Panel[] = [];
  const visit = (panels: readonly Panel[]): void => {
    for (const panel of panels) {
      if (panel.type === 'row') visit(panel.panels ?? []);
      else out.push(panel);
    }
  };
  visit(dashboard.panels ?? []);
  return out;
}

/** A templating query's text (`label_values(selector, label)` for a Prometheus query variable). */
export function variableQuery(variable: TemplateVariable): string | null {
  if (variable.type !== 'query') return null;
  return typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? null);
}

/** The PromQL of every panel target and of every `label_values(…)` templating query. */
export function dashboardQueries(d: DashboardFile): Query[] {
  const queries: Query[] = [];
  for (const panel of queryPanels(d.json)) {
    for (const target of panel.targets ?? []) {
      if (target.expr === undefined) continue;
      const where = `${d.file} › ${panel.title ?? '(untitled)'} › ${target.refId ?? '?'}`;
      queries.push({ where, expr: target.expr, panel: panel.title ?? '(untitled)' });
    }
  }
  for (const variable of d.json.templating?.list ?? []) {
    const text = variableQuery(variable);
    if (text === null) continue;
    const selector = /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(text.trim());
    if (!selector)
      throw new Error(`${d.file} › $${variable.name}: not a label_values(selector, label) query`);
    queries.push({ where: `${d.file} › $${variable.name}`, expr: selector[1]!, panel: null });
  }
  return queries;
}

/**
 * Template variables replaced by what Grafana would send for one instance of one job, so the
 * result is plain PromQL. `$__rate_interval` covers several scrapes at the tests' 1 s interval.
 */
export function substituteVariables(
  expr: string,
  values: { job: string; instance: string; rateInterval?: string; range?: string },
): string {
  return expr
    .replaceAll('$__rate_interval', values.rateInterval ?? '15s')
    .replaceAll('$__interval', '5s')
    .replaceAll('$__range', values.range ?? '1m')
    .replaceAll('$instance', values.instance)
    .replaceAll('$job', values.job);
}

export interface RuleExpression {
  /** `alert: Name` or `record: name`. */
  readonly rule: string;
  readonly expr: string;
}

/**
 * The `expr` of every rule in a Prometheus rule file. A small reader for the subset the file uses
 * (one rule per `- alert:`/`- record:` item, `expr:` inline or as a `|`/`>` block); the test
 * cross-checks the count with `promtool check rules`, so a rule it misses fails the suite.
 */
export function ruleExpressions(yaml: string): RuleExpression[] {
  const lines = yaml.split('\n');
  const out: RuleExpression[] = [];
  let rule: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const head = /^\s*- (alert|record):\s*(\S+)\s*$/.exec(line);
    if (head) {
      rule = `${head[1]}: ${head[2]}`;
      continue;
    }
    const expr = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!expr) continue;
    if (rule === null) throw new Error(`expr outside a rule at line ${i + 1}`);
    const indent = expr[1]!.length;
    const inline = expr[2]!.trim();
    let text: string;
    if (/^[|>][-+]?$/.test(inline)) {
      const block: string[] = [];
      while (i + 1 < lines.length) {
        const next = lines[i + 1]!;
        if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break;
        block.push(next.trim());
        i++;
      }
      text = block.join('\n').trim();
    } else {
      text = /^'.*'$|^".*"$/.test(inline) ? inline.slice(1, -1) : inline;
    }
    out.push({ rule, expr: text });
    rule = null;
  }
  return out;
}
