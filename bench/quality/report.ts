/** What a benchmark run writes: results.json, windows.csv, chart.png and the printed tables. */

import { cpus } from 'node:os';
import { formatCount, formatFixed, markdownTable } from '../support.js';
import { type ChartSeries, renderChart } from './chart.js';
import {
  type HarnessOptions,
  type MethodRun,
  type PreparedDataset,
  SPLIT_PHASES,
  type SplitPhase,
  USER_GROUPS,
  validationEvents,
} from './harness.js';
import { BASELINE_NAMES, type Overrides } from './methods.js';
import { CUTOFF, LIST_SIZE, type SplitMetrics } from './metrics.js';

export interface MethodOutcome {
  readonly run: MethodRun;
  /** Which method family ran (eddy, popularity, …); ablations are `eddy`. */
  readonly family: string;
  /** Where the configuration came from: `defaults`, a tuned file, or an ablation of either. */
  readonly configSource: string;
  readonly overrides: Overrides;
  /** Eddy only: records the pipeline rejected (should be 0). */
  readonly deadLetters?: number;
}

export interface ResultsDocument {
  readonly command: string;
  readonly generatedAt: string;
  readonly machine: { readonly node: string; readonly cpus: number; readonly cpuModel: string };
  readonly dataset: {
    readonly label: string;
    readonly description: string;
    readonly clicks: number;
    readonly users: number;
    readonly catalogueSize: number;
    readonly repeatClicks: number;
    readonly validationEvents: number;
    readonly evaluationEvents: number;
  };
  readonly protocol: Record<string, string | number>;
  readonly methods: Record<
    string,
    {
      readonly family: string;
      readonly configSource: string;
      readonly overrides: Overrides;
      readonly events: number;
      readonly seconds: number;
      readonly eventsPerSecond: number;
      readonly servedSeen: number;
      readonly shortLists: number;
      readonly skippedRepeats: number;
      readonly deadLetters?: number;
      readonly splits: MethodRun['splits'];
    }
  >;
}

export function resultsDocument(
  command: string,
  dataset: PreparedDataset,
  harness: HarnessOptions,
  outcomes: readonly MethodOutcome[],
): ResultsDocument {
  const validation = validationEvents(dataset.clicks, harness.validationFraction);
  const methods: ResultsDocument['methods'] = {};
  for (const o of outcomes) {
    methods[o.run.method] = {
      family: o.family,
      configSource: o.configSource,
      overrides: o.overrides,
      events: o.run.events,
      seconds: o.run.seconds,
      eventsPerSecond: o.run.eventsPerSecond,
      servedSeen: o.run.servedSeen,
      shortLists: o.run.shortLists,
      skippedRepeats: o.run.skippedRepeats,
      ...(o.deadLetters === undefined ? {} : { deadLetters: o.deadLetters }),
      splits: o.run.splits,
    };
  }
  return {
    command,
    generatedAt: new Date().toISOString(),
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' },
    dataset: {
      label: dataset.label,
      description: dataset.description,
      clicks: dataset.clicks,
      users: dataset.users,
      catalogueSize: dataset.catalogueSize,
      repeatClicks: dataset.repeatClicks,
      validationEvents: validation,
      evaluationEvents: dataset.clicks - validation,
    },
    protocol: {
      order:
        'event time; equal timestamps by the --then-by columns (numerically when both values are numbers), then file order (files in the order given)',
      listSize: LIST_SIZE,
      cutoff: CUTOFF,
      ranking: 'full catalogue, no sampled negatives; each method excludes items the user interacted with',
      events:
        'every click is learned from, negative types (dislike, skip) included; a click on an item the user interacted with before is not scored (it can never be a hit: seen items are excluded)',
      coldUsers: `fewer than ${harness.coldThreshold} prior events`,
      validation: `first ${harness.validationFraction * 100}% of the clicks (tuning); evaluation: the rest`,
      coverage: 'distinct items in the served top-10 lists of the split / catalogueSize',
      eventsPerSecond: 'clicks / wall time of the whole prequential run (serve + learn + scoring)',
      window: harness.window,
    },
    methods,
  };
}

/** JSON has no NaN: a metric over zero events becomes null. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

export function windowsCsv(runs: readonly MethodRun[]): string {
  const lines = ['method,window,start,end,events,hr@10,ndcg@10'];
  for (const run of runs) {
    run.windows.forEach((w, i) => {
      lines.push(
        [run.method, i, w.start, w.start + w.events, w.events, fixed(w['hr@10']), fixed(w['ndcg@10'])].join(
          ',',
        ),
      );
    });
  }
  return `${lines.join('\n')}\n`;
}

function fixed(value: number): string {
  return Number.isFinite(value) ? value.toFixed(6) : '';
}

export function chartPng(
  dataset: PreparedDataset,
  harness: HarnessOptions,
  runs: readonly MethodRun[],
): Buffer {
  const series = (metric: 'hr@10' | 'ndcg@10'): ChartSeries[] =>
    runs.map((run) => ({
      name: run.method,
      points: run.windows.map((w) => [w.start + w.events, w[metric]] as const),
    }));
  return renderChart({
    title: `${dataset.label}: prequential quality per ${formatCount(harness.window)} events`,
    xLabel: 'events',
    panels: [
      { yLabel: 'HR@10', series: series('hr@10') },
      { yLabel: 'NDCG@10', series: series('ndcg@10') },
    ],
    marker: { x: validationEvents(dataset.clicks, harness.validationFraction), label: 'evaluation' },
  });
}

function metric(value: number): string {
  return formatFixed(value, 4);
}

/** Relative difference in percent, signed. */
export function relative(value: number, reference: number): string {
  if (!(reference > 0) || !Number.isFinite(value)) return '–';
  const pct = ((value - reference) / reference) * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`;
}

export function splitTable(runs: readonly MethodRun[], phase: SplitPhase): string {
  const rows = runs.map((run) => {
    const s = run.splits[phase];
    const cell = (m: SplitMetrics, k: keyof SplitMetrics): string => metric(m[k]);
    return [
      run.method,
      cell(s.overall, 'hr@10'),
      cell(s.overall, 'ndcg@10'),
      cell(s.overall, 'mrr@10'),
      cell(s.overall, 'hr@20'),
      formatFixed(s.overall.coverage, 3),
      cell(s.cold, 'hr@10'),
      cell(s.cold, 'ndcg@10'),
      cell(s.warm, 'hr@10'),
      cell(s.warm, 'ndcg@10'),
      formatCount(run.eventsPerSecond),
    ];
  });
  return markdownTable(
    [
      'method',
      'HR@10',
      'NDCG@10',
      'MRR@10',
      'HR@20',
      'coverage',
      'cold HR@10',
      'cold NDCG@10',
      'warm HR@10',
      'warm NDCG@10',
      'events/s',
    ],
    rows,
  );
}

/** Eddy against the best baseline (per metric) of the split, as relative differences. */
export function versusBaselines(runs: readonly MethodRun[], phase: SplitPhase): string {
  const eddy = runs.find((r) => r.method === 'eddy');
  const baselines = runs.filter((r) => (BASELINE_NAMES as readonly string[]).includes(r.method));
  if (eddy === undefined || baselines.length === 0) return '';
  const lines: string[] = [];
  for (const group of USER_GROUPS) {
    const parts: string[] = [];
    for (const m of ['hr@10', 'ndcg@10'] as const) {
      const best = baselines.reduce((a, b) =>
        b.splits[phase][group][m] > a.splits[phase][group][m] ? b : a,
      );
      parts.push(
        `${m.toUpperCase()} ${metric(eddy.splits[phase][group][m])} vs ${best.method} ` +
          `${metric(best.splits[phase][group][m])} (${relative(eddy.splits[phase][group][m], best.splits[phase][group][m])})`,
      );
    }
    lines.push(`  ${group.padEnd(7)} ${parts.join('; ')}`);
  }
  return `eddy vs the best baseline (${phase}):\n${lines.join('\n')}`;
}

export function fullReport(
  dataset: PreparedDataset,
  harness: HarnessOptions,
  runs: readonly MethodRun[],
): string {
  const validation = validationEvents(dataset.clicks, harness.validationFraction);
  const out = [
    `${dataset.description}: ${formatCount(dataset.clicks)} clicks, ${formatCount(dataset.users)} users, ` +
      `${formatCount(dataset.catalogueSize)} items; ${formatCount(dataset.repeatClicks)} repeat clicks ` +
      '(a click on an item the user interacted with before: learned from, not scored)',
    `validation = clicks 1–${formatCount(validation)}, evaluation = clicks ${formatCount(validation + 1)}–${formatCount(dataset.clicks)}`,
    '',
  ];
  for (const phase of [...SPLIT_PHASES].reverse()) {
    out.push(`${phase} (${phase === 'evaluation' ? 'reported' : 'tuning'} split)`, splitTable(runs, phase));
    const versus = versusBaselines(runs, phase);
    if (versus !== '') out.push('', versus);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
