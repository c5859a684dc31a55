/**
 * The prequential quality benchmark: Eddy (through its real pipeline) and the streaming baselines
 * on one dataset, test-then-train on every click.
 *
 *   npm run build && node dist/bench/quality/run.js --dataset movielens [--help]
 */

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  formatCount,
  formatFixed,
  integerFlag,
  markdownTable,
  parseFlags,
  progress,
  repositoryRoot,
  settingsOrExitCode,
  UsageError,
} from '../support.js';
import {
  csvDataset,
  DatasetMissing,
  movieLensDataset,
  SYNTHETIC_BENCH_EVENTS,
  syntheticDataset,
  yoochooseDataset,
} from './datasets.js';
import { EddyMethod } from './eddy-method.js';
import { FUSION_DEPTH, FusedMethod, fusionName, parseFusionSpec, RANK_OFFSET } from './fusion.js';
import {
  DEFAULT_HARNESS_OPTIONS,
  type HarnessOptions,
  type PreparedDataset,
  runPrequential,
  type StreamingMethod,
  validationEvents,
} from './harness.js';
import {
  ABLATIONS,
  createMethod,
  DEFAULT_GRIDS,
  eddyConfig,
  type GridFile,
  isMethodName,
  METHOD_NAMES,
  type MethodName,
  type Overrides,
  parseGridFile,
} from './methods.js';
import { chartPng, fullReport, type MethodOutcome, resultsDocument, toJson, windowsCsv } from './report.js';
import {
  readTunedOverrides,
  TUNING_CRITERION,
  type TunedFile,
  type TuneResult,
  trialTable,
  tuneMethod,
} from './tuning.js';

const USAGE = `Usage: node dist/bench/quality/run.js --dataset <name> [options]
       (npm run bench:quality -- --dataset <name> [options])

Prequential ("test, then train") quality benchmark: for every click in time order each method
serves the user a top-20 list from its state before the click, the list is scored against the
clicked item (HR@10, NDCG@10, MRR@10, HR@20, full catalogue, seen items excluded), then the method
learns from the click. The first 20% of the clicks are the validation prefix (tuning), the rest the
evaluation part; both are reported, overall and for cold (< 5 prior events) and warm users.

Methods: eddy (the real pipeline: EmbeddedEddy, 1 partition, batches of 1), popularity (recency
decay), cooccurrence (item-to-item over the user's last n items), isgd (incremental MF with
negative sampling), sknn (session-kNN, VSTAN-style, over a bounded index of recent sessions), als
(implicit ALS retrained every 1% of the stream, the user's vector folded in after each click).
With --ablation, eddy-no-<signal> for long-term, short-term, co-visitation, sequence, next-item,
session-knn, popularity and diversity, eddy-no-learning (the configured ranking weights kept
fixed) and eddy-no-context (one set of learned weights for every ranking context).

Data:
  --dataset <name>     synthetic (default), movielens, yoochoose or csv
  --path <dir|file>    movielens: the unpacked directory (default ../shared/datasets/ml-100k from
                       the repository root; skipped with a message when absent); yoochoose: the
                       folder of the RecSys 2015 sample (default ../shared/datasets/yoochoose-100k;
                       both files read as one log, sessions as users); csv: the file, or several
                       comma-separated files read as one log
  --events <n>         only the first n clicks (synthetic: clicks generated, default ${formatCount(SYNTHETIC_BENCH_EVENTS)})
  --min-rating <r>     movielens: keep only ratings >= r (e.g. 4: positives only; reported as
                       dataset movielens-r<r>, with its own tuned file)
  --user-col <name>    csv: user column (default user_id)
  --item-col <name>    csv: item column (default item_id)
  --time-col <name>    csv: time column (default timestamp)
  --time-unit <s|ms>   csv: unit of the time column (default s)
  --delimiter <c>      csv: field delimiter (default ,)
  --type-col <name>    csv: optional column with the event type (view, click, like, dislike, …)
  --then-by <cols>     csv: comma-separated columns ordering clicks with equal times (numerically
                       when both values are numbers), before file order; e.g. SessionId,Offset

Methods and configuration:
  --methods <list>     comma-separated subset of ${METHOD_NAMES.join(',')} (default: all)
  --ablation           also run eddy with each signal switched off (default; --no-ablation to skip)
  --tuned <file>       tuned configurations to evaluate with (default: bench/quality/tuned-<dataset>.json
                       when it exists). A baseline it does not name is first tuned on the validation
                       prefix of this same run (its built-in grid), so any log gets tuned baselines
                       from one command; eddy runs its shipped defaults unless the file names it
  --defaults           ignore tuned files: every method on its defaults
  --tune               instead of evaluating, search each method's grid on the validation prefix and
                       write the best configuration per method to <out>/tuned.json
  --grid <file>        tuning grids as JSON, replacing the built-in grid of each method it names:
                       { "eddy": { "search": "coordinate", "passes": 2,
                                   "parameters": { "ranking.weights.longTerm": [0, 0.5, 1, 2] } } }
                       search "grid" tries every combination, "coordinate" one parameter at a time
  --fuse <a+b,…>       also run each given fusion, e.g. eddy+isgd*0.5: the weighted reciprocal-rank
                       fusion (weight / (${RANK_OFFSET} + rank), top ${FUSION_DEPTH} of each) of fresh, tuned instances
                       of the named methods. A diagnostic: what a baseline adds to Eddy's lists.

Output:
  --out <dir>          default out/quality-<dataset>/ under the repository root; receives
                       results.json, windows.csv and chart.png (or tuned.json with --tune)
  --instances <list>   also run eddy as N instances over 8 partitions sharing one item model through
                       the item-updates topic (each a real pipeline on the in-process log), for
                       each N in the list (1..8), e.g. 1,2,4,8; named eddy-x<N>
  --isolated           with --instances: also eddy-x<N>-isolated, each instance learning items from
                       its own partitions alone (how Eddy scaled out before the shared item model)
  --window <n>         events per point of the windowed curve (default ${formatCount(DEFAULT_HARNESS_OPTIONS.window)})
  --help               show this text

Progress goes to stderr, tables to stdout.`;

interface Settings {
  readonly dataset: 'synthetic' | 'movielens' | 'yoochoose' | 'csv';
  readonly path: string | null;
  readonly events: number | undefined;
  readonly minRating: number | undefined;
  readonly csv: {
    readonly userColumn: string;
    readonly itemColumn: string;
    readonly timeColumn: string;
    readonly timeUnit: 's' | 'ms';
    readonly delimiter: string | undefined;
    readonly typeColumn: string | undefined;
    readonly thenBy: readonly string[] | undefined;
  };
  readonly methods: readonly MethodName[];
  readonly fusions: readonly (readonly { readonly name: MethodName; readonly weight: number }[])[];
  readonly ablation: boolean;
  readonly tune: boolean;
  readonly grid: string | null;
  readonly tuned: string | null | false;
  readonly out: string | null;
  readonly window: number;
  /** Instance counts Eddy also runs with (one shared item model), e.g. [1, 2, 4, 8]; empty: none. */
  readonly instances: readonly number[];
  /** With `instances`: also each count with items learned per instance alone (the old design). */
  readonly isolated: boolean;
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    allowNegative: true,
    options: {
      dataset: { type: 'string' },
      path: { type: 'string' },
      events: { type: 'string' },
      'min-rating': { type: 'string' },
      'user-col': { type: 'string' },
      'item-col': { type: 'string' },
      'time-col': { type: 'string' },
      'time-unit': { type: 'string' },
      delimiter: { type: 'string' },
      'type-col': { type: 'string' },
      'then-by': { type: 'string' },
      methods: { type: 'string' },
      fuse: { type: 'string' },
      ablation: { type: 'boolean' },
      tune: { type: 'boolean' },
      grid: { type: 'string' },
      tuned: { type: 'string' },
      defaults: { type: 'boolean' },
      out: { type: 'string' },
      window: { type: 'string' },
      instances: { type: 'string' },
      isolated: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
}

function parseSettings(argv: readonly string[]): Settings | null {
  const { values } = parseFlags(() => parseOptions(argv));
  if (values.help === true) return null;
  const dataset = values.dataset ?? 'synthetic';
  if (dataset !== 'synthetic' && dataset !== 'movielens' && dataset !== 'yoochoose' && dataset !== 'csv') {
    throw new UsageError(
      `--dataset must be synthetic, movielens, yoochoose or csv, got ${JSON.stringify(dataset)}`,
    );
  }
  if (dataset === 'synthetic' && values.path !== undefined)
    throw new UsageError('--path does not apply to synthetic');
  if (dataset === 'csv' && values.path === undefined)
    throw new UsageError('--dataset csv needs --path <file>');
  const csvFlags = [
    'user-col',
    'item-col',
    'time-col',
    'time-unit',
    'delimiter',
    'type-col',
    'then-by',
  ] as const;
  if (dataset !== 'csv') {
    for (const flag of csvFlags) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} applies to --dataset csv only`);
    }
  }
  let minRating: number | undefined;
  if (values['min-rating'] !== undefined) {
    if (dataset !== 'movielens') throw new UsageError('--min-rating applies to --dataset movielens only');
    minRating = Number(values['min-rating']);
    if (!Number.isFinite(minRating))
      throw new UsageError(`--min-rating must be a number, got ${values['min-rating']}`);
  }
  const timeUnit = values['time-unit'] ?? 's';
  if (timeUnit !== 's' && timeUnit !== 'ms')
    throw new UsageError(`--time-unit must be s or ms, got ${timeUnit}`);
  const methods = (values.methods ?? METHOD_NAMES.join(','))
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  for (const m of methods) {
    if (!isMethodName(m))
      throw new UsageError(`--methods: unknown method ${m} (methods: ${METHOD_NAMES.join(', ')})`);
  }
  if (methods.length === 0) throw new UsageError('--methods is empty');
  if (values.fuse !== undefined && values.tune === true)
    throw new UsageError('--fuse does not apply to --tune');
  const fusions = (values.fuse ?? '')
    .split(',')
    .filter((spec) => spec.trim() !== '')
    .map((spec) => {
      let members: { name: string; weight: number }[];
      try {
        members = parseFusionSpec(spec);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      return members.map(({ name, weight }) => {
        if (!isMethodName(name))
          throw new UsageError(`--fuse: unknown method ${name} (methods: ${METHOD_NAMES.join(', ')})`);
        return { name, weight };
      });
    });
  if (values.grid !== undefined && values.tune !== true)
    throw new UsageError('--grid applies to --tune only');
  if (values.defaults === true && values.tuned !== undefined)
    throw new UsageError('--defaults and --tuned exclude each other');
  return {
    dataset,
    path:
      values.path !== undefined
        ? values.path
            .split(',')
            .map((p) => resolve(p.trim()))
            .join(',')
        : dataset === 'movielens'
          ? resolve(repositoryRoot(), '../shared/datasets/ml-100k')
          : dataset === 'yoochoose'
            ? resolve(repositoryRoot(), '../shared/datasets/yoochoose-100k')
            : null,
    events: integerFlag('events', values.events, undefined),
    minRating,
    csv: {
      userColumn: values['user-col'] ?? 'user_id',
      itemColumn: values['item-col'] ?? 'item_id',
      timeColumn: values['time-col'] ?? 'timestamp',
      timeUnit,
      delimiter: values.delimiter,
      typeColumn: values['type-col'],
      thenBy:
        values['then-by'] === undefined
          ? undefined
          : values['then-by']
              .split(',')
              .map((c) => c.trim())
              .filter((c) => c !== ''),
    },
    methods: METHOD_NAMES.filter((m) => methods.includes(m)),
    fusions,
    ablation: values.ablation ?? true,
    tune: values.tune === true,
    grid: values.grid ?? null,
    tuned: values.defaults === true ? false : (values.tuned ?? null),
    out: values.out ?? null,
    window: integerFlag('window', values.window, undefined) ?? DEFAULT_HARNESS_OPTIONS.window,
    instances: parseInstances(values.instances),
    isolated: values.isolated === true,
  };
}

function parseInstances(text: string | undefined): number[] {
  if (text === undefined) return [];
  const counts = text.split(',').map((part) => Number(part.trim()));
  for (const n of counts) {
    if (!Number.isInteger(n) || n < 1 || n > 8) {
      throw new UsageError(`--instances must be a comma-separated list of integers 1..8, got ${text}`);
    }
  }
  return counts;
}

function loadDataset(settings: Settings): PreparedDataset {
  switch (settings.dataset) {
    case 'synthetic':
      return syntheticDataset(settings.events === undefined ? {} : { events: settings.events });
    case 'movielens':
      return movieLensDataset({
        path: settings.path!,
        ...(settings.events === undefined ? {} : { events: settings.events }),
        ...(settings.minRating === undefined ? {} : { minRating: settings.minRating }),
      });
    case 'yoochoose':
      return yoochooseDataset({
        path: settings.path!,
        ...(settings.events === undefined ? {} : { events: settings.events }),
      });
    case 'csv':
      return csvDataset({
        path: settings.path!.split(','),
        ...(settings.csv.thenBy === undefined ? {} : { thenBy: settings.csv.thenBy }),
        userColumn: settings.csv.userColumn,
        itemColumn: settings.csv.itemColumn,
        timeColumn: settings.csv.timeColumn,
        timeUnit: settings.csv.timeUnit,
        ...(settings.csv.delimiter === undefined ? {} : { delimiter: settings.csv.delimiter }),
        ...(settings.csv.typeColumn === undefined ? {} : { typeColumn: settings.csv.typeColumn }),
        ...(settings.events === undefined ? {} : { events: settings.events }),
      });
  }
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function progressReporter(label: string): HarnessOptions['onProgress'] {
  return (done, total, elapsedMs) => {
    const rate = done / (elapsedMs / 1000);
    const eta = (total - done) / rate;
    progress(
      `[${label}] ${formatCount(done)}/${formatCount(total)} events (${formatFixed((100 * done) / total, 0)}%), ` +
        `${formatCount(rate)} events/s, ${done >= total ? `done in ${duration(elapsedMs / 1000)}` : `ETA ${duration(eta)}`}`,
    );
  };
}

async function evaluate(
  settings: Settings,
  dataset: PreparedDataset,
  harness: HarnessOptions,
  out: string,
): Promise<void> {
  const tunedPath =
    settings.tuned === false
      ? null
      : (settings.tuned ?? join(repositoryRoot(), 'bench', 'quality', `tuned-${dataset.label}.json`));
  const tuned: Partial<Record<MethodName, Overrides>> =
    tunedPath !== null && existsSync(tunedPath) ? readTunedOverrides(tunedPath) : {};
  if (typeof settings.tuned === 'string' && !existsSync(settings.tuned)) {
    throw new UsageError(`--tuned ${settings.tuned}: no such file`);
  }
  // Honest baselines on any log: a baseline without a tuned configuration is tuned here, on the
  // validation prefix of this very run, before the evaluation. Eddy keeps its shipped defaults
  // (one default for every stream) unless a tuned file names it.
  const tunedHere = new Set<MethodName>();
  const tunedResults: Partial<Record<MethodName, TuneResult>> = {};
  if (settings.tuned !== false) {
    const wanted = new Set<MethodName>([...settings.methods, ...settings.fusions.flat().map((m) => m.name)]);
    for (const family of wanted) {
      if (family === 'eddy' || tuned[family] !== undefined) continue;
      const grid = DEFAULT_GRIDS[family];
      progress(
        `[tune ${family}] no tuned configuration for ${dataset.label}: tuning on the validation prefix first`,
      );
      const result = await tuneMethod(family, grid, dataset, harness, (trial, index, best) =>
        progress(
          `[tune ${family}] #${index} ${JSON.stringify(trial.overrides)}: NDCG@10 ${formatFixed(trial['ndcg@10'], 4)}; best ${formatFixed(best['ndcg@10'], 4)}`,
        ),
      );
      tuned[family] = result.best.overrides;
      tunedResults[family] = result;
      tunedHere.add(family);
    }
    if (tunedHere.size > 0) {
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'tuned.json'), toJson(tunedDocument(dataset, harness, tunedResults)));
      progress(
        `wrote ${join(out, 'tuned.json')}; copy it to bench/quality/tuned-${dataset.label}.json to skip this tuning next time`,
      );
    }
  }
  const plan: {
    family: string;
    name: string;
    overrides: Overrides;
    source: string;
    create: () => StreamingMethod;
  }[] = [];
  const sourceOf = (family: MethodName): string =>
    tunedHere.has(family)
      ? 'tuned on the validation prefix of this run'
      : tuned[family] !== undefined
        ? `tuned (${tunedPath})`
        : 'defaults';
  for (const family of settings.methods) {
    const overrides = tuned[family] ?? {};
    const source = sourceOf(family);
    plan.push({ family, name: family, overrides, source, create: () => createMethod(family, overrides) });
    if (family === 'eddy') {
      for (const instances of settings.instances) {
        const deployments = settings.isolated && instances > 1 ? [true, false] : [true];
        for (const sharedItemModel of deployments) {
          const name = `eddy-x${instances}${sharedItemModel ? '' : '-isolated'}`;
          plan.push({
            family,
            name,
            overrides,
            source: `${source}, ${instances} instance(s) over 8 partitions, ${sharedItemModel ? 'one shared item model' : 'items learned per instance alone'}`,
            create: () =>
              new EddyMethod(eddyConfig(overrides), name, { instances, partitions: 8, sharedItemModel }),
          });
        }
      }
    }
    if (family === 'eddy' && settings.ablation) {
      for (const ablation of ABLATIONS) {
        const name = `eddy-no-${ablation.signal}`;
        const ablated = { ...overrides, ...ablation.overrides };
        plan.push({
          family,
          name,
          create: () => createMethod(family, ablated, name),
          overrides: ablated,
          source: `${source}, ablation: ${Object.entries(ablation.overrides)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`,
        });
      }
    }
  }
  for (const members of settings.fusions) {
    const name = fusionName(members);
    const create = (): StreamingMethod =>
      new FusedMethod(
        members.map((m) => ({ method: createMethod(m.name, tuned[m.name] ?? {}), weight: m.weight })),
        name,
      );
    plan.push({
      family: 'fused',
      name,
      overrides: {},
      source: members.map(({ name }) => `${name}: ${sourceOf(name)}`).join('; '),
      create,
    });
  }
  for (const p of plan)
    progress(
      `${p.name}: ${p.source}${Object.keys(p.overrides).length > 0 ? ` ${JSON.stringify(p.overrides)}` : ''}`,
    );

  const outcomes: MethodOutcome[] = [];
  for (const p of plan) {
    const method = p.create();
    const run = await runPrequential(method, dataset, { ...harness, onProgress: progressReporter(p.name) });
    const deadLetters = method instanceof EddyMethod ? method.deadLetters : undefined;
    if (deadLetters !== undefined && deadLetters > 0) {
      progress(
        `warning: ${p.name}: the pipeline dead-lettered ${deadLetters} records it then did not learn from`,
      );
    }
    outcomes.push({
      run,
      family: p.family,
      configSource: p.source,
      overrides: p.overrides,
      ...(deadLetters === undefined ? {} : { deadLetters }),
    });
  }
  const runs = outcomes.map((o) => o.run);
  const command = ['node dist/bench/quality/run.js', ...process.argv.slice(2)].join(' ');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.json'), toJson(resultsDocument(command, dataset, harness, outcomes)));
  writeFileSync(join(out, 'windows.csv'), windowsCsv(runs));
  writeFileSync(join(out, 'chart.png'), chartPng(dataset, harness, runs));
  process.stdout.write(fullReport(dataset, harness, runs));
  progress(`wrote ${join(out, 'results.json')}, windows.csv and chart.png`);
}

async function tune(
  settings: Settings,
  dataset: PreparedDataset,
  harness: HarnessOptions,
  out: string,
): Promise<void> {
  let grids: GridFile = DEFAULT_GRIDS;
  if (settings.grid !== null) {
    const parsed = parseGridFile(JSON.parse(readFileSync(settings.grid, 'utf8')), settings.grid);
    grids = { ...DEFAULT_GRIDS, ...parsed };
  }
  const results: Partial<Record<MethodName, TuneResult>> = {};
  for (const method of settings.methods) {
    const grid = grids[method] ?? DEFAULT_GRIDS[method];
    progress(`[tune ${method}] ${grid.search} search over ${Object.keys(grid.parameters).join(', ')}`);
    results[method] = await tuneMethod(method, grid, dataset, harness, (trial, index, best) => {
      progress(
        `[tune ${method}] #${index} ${JSON.stringify(trial.overrides)}: NDCG@10 ${formatFixed(trial['ndcg@10'], 4)} ` +
          `HR@10 ${formatFixed(trial['hr@10'], 4)} (${formatFixed(trial.seconds, 1)} s); best NDCG@10 ${formatFixed(best['ndcg@10'], 4)}`,
      );
    });
  }
  const document = tunedDocument(dataset, harness, results);
  mkdirSync(out, { recursive: true });
  const file = join(out, 'tuned.json');
  writeFileSync(file, toJson(document));
  const rows = Object.entries(results).map(([method, r]) => [
    method,
    formatFixed(r.best['hr@10'], 4),
    formatFixed(r.best['ndcg@10'], 4),
    String(r.trials.length),
    JSON.stringify(r.best.overrides),
  ]);
  process.stdout.write(
    `best configuration per method on the validation prefix (${formatCount(document.validationEvents)} clicks of ${dataset.description}):\n` +
      `${markdownTable(['method', 'HR@10', 'NDCG@10', 'trials', 'overrides'], rows)}\n`,
  );
  progress(
    `wrote ${file}; copy it to bench/quality/tuned-${dataset.label}.json to evaluate with it by default`,
  );
}

/** The tuned-configuration file (what `--tuned` and bench/quality/tuned-<dataset>.json hold). */
function tunedDocument(
  dataset: PreparedDataset,
  harness: HarnessOptions,
  results: Partial<Record<MethodName, TuneResult>>,
): TunedFile {
  return {
    dataset: dataset.label,
    description: dataset.description,
    validationEvents: validationEvents(dataset.clicks, harness.validationFraction),
    criterion: TUNING_CRITERION,
    command: ['node dist/bench/quality/run.js', ...process.argv.slice(2)].join(' '),
    methods: Object.fromEntries(
      Object.entries(results).map(([m, r]) => [
        m,
        { search: r.search, best: r.best, trials: trialTable(r.trials) },
      ]),
    ),
  };
}

async function main(): Promise<number> {
  const settings = settingsOrExitCode(() => parseSettings(process.argv.slice(2)), USAGE);
  if (typeof settings === 'number') return settings;
  let dataset: PreparedDataset;
  try {
    dataset = loadDataset(settings);
  } catch (error) {
    if (error instanceof DatasetMissing) {
      progress(`skipped: ${error.message}`);
      return 0;
    }
    throw error;
  }
  const harness: HarnessOptions = { ...DEFAULT_HARNESS_OPTIONS, window: settings.window };
  const out =
    settings.out !== null ? resolve(settings.out) : join(repositoryRoot(), 'out', `quality-${dataset.label}`);
  progress(
    `${dataset.description}: ${formatCount(dataset.clicks)} clicks, ${formatCount(dataset.users)} users, ` +
      `${formatCount(dataset.catalogueSize)} items`,
  );
  try {
    if (settings.tune) await tune(settings, dataset, harness, out);
    else await evaluate(settings, dataset, harness, out);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  return 0;
}

process.exitCode = await main();
