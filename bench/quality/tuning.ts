/**
 * Hyper-parameter search on the validation prefix. Every trial trains a fresh instance from the
 * start of the stream and is scored on the prefix only; the evaluation part is never looked at.
 * Criterion: NDCG@10 over all validation events, HR@10 breaking ties.
 */

import { readFileSync } from 'node:fs';
import { type HarnessOptions, type PreparedDataset, runPrequential } from './harness.js';
import {
  ConfigError,
  createMethod,
  gridPoints,
  isMethodName,
  type MethodGrid,
  type MethodName,
  type Overrides,
  type Scalar,
} from './methods.js';

export const TUNING_CRITERION = 'ndcg@10 on the validation prefix (all users), hr@10 breaking ties';

export interface Trial {
  readonly overrides: Overrides;
  readonly 'hr@10': number;
  readonly 'ndcg@10': number;
  readonly seconds: number;
}

export interface TuneResult {
  readonly search: MethodGrid['search'];
  readonly best: Trial;
  readonly trials: readonly Trial[];
}

/** Every trial as one row, so a tuned file stays reviewable: 100 trials are 100 lines, not 1,000. */
export interface TrialTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (Scalar | null)[])[];
}

export interface TunedFile {
  readonly dataset: string;
  readonly description: string;
  readonly validationEvents: number;
  readonly criterion: string;
  readonly command: string;
  readonly methods: Partial<
    Record<
      MethodName,
      { readonly search: MethodGrid['search']; readonly best: Trial; readonly trials: TrialTable }
    >
  >;
}

export function trialTable(trials: readonly Trial[]): TrialTable {
  const paths = [...new Set(trials.flatMap((t) => Object.keys(t.overrides)))];
  const round = (v: number): number => Math.round(v * 1e4) / 1e4;
  return {
    columns: ['ndcg@10', 'hr@10', 'seconds', ...paths],
    rows: trials.map((t) => [
      round(t['ndcg@10']),
      round(t['hr@10']),
      Math.round(t.seconds * 10) / 10,
      ...paths.map((p) => t.overrides[p] ?? null),
    ]),
  };
}

function better(a: Trial, b: Trial): boolean {
  return a['ndcg@10'] > b['ndcg@10'] || (a['ndcg@10'] === b['ndcg@10'] && a['hr@10'] > b['hr@10']);
}

function key(overrides: Overrides): string {
  return JSON.stringify(Object.entries(overrides).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export async function tuneMethod(
  method: MethodName,
  grid: MethodGrid,
  dataset: PreparedDataset,
  harness: HarnessOptions,
  onTrial: (trial: Trial, index: number, best: Trial) => void,
): Promise<TuneResult> {
  const trials: Trial[] = [];
  const cache = new Map<string, Trial>();
  let best: Trial | null = null;
  const evaluate = async (overrides: Overrides): Promise<Trial> => {
    const cached = cache.get(key(overrides));
    if (cached !== undefined) return cached;
    const run = await runPrequential(createMethod(method, overrides), dataset, {
      ...harness,
      validationOnly: true,
    });
    const cell = run.splits.validation.overall;
    const trial: Trial = {
      overrides,
      'hr@10': cell['hr@10'],
      'ndcg@10': cell['ndcg@10'],
      seconds: run.seconds,
    };
    cache.set(key(overrides), trial);
    trials.push(trial);
    if (best === null || better(trial, best)) best = trial;
    onTrial(trial, trials.length, best);
    return trial;
  };

  if (grid.search === 'grid') {
    for (const overrides of gridPoints(grid.parameters)) await evaluate(overrides);
  } else {
    let current: Record<string, Scalar> = {};
    let currentTrial = await evaluate(current);
    for (let pass = 0; pass < (grid.passes ?? 2); pass++) {
      let improved = false;
      for (const [path, values] of Object.entries(grid.parameters)) {
        for (const value of values) {
          if (current[path] === value) continue;
          const candidate = { ...current, [path]: value };
          const trial = await evaluate(candidate);
          if (better(trial, currentTrial)) {
            current = candidate;
            currentTrial = trial;
            improved = true;
          }
        }
      }
      if (!improved) break;
    }
  }
  if (best === null) throw new ConfigError(`${method}: the grid has no points`);
  return { search: grid.search, best, trials };
}

/** The best overrides per method from a tuned file; absent methods run on their defaults. */
export function readTunedOverrides(path: string): Partial<Record<MethodName, Overrides>> {
  const methods = field(JSON.parse(readFileSync(path, 'utf8')), 'methods');
  if (typeof methods !== 'object' || methods === null) {
    throw new ConfigError(
      `${path}: expected { "methods": { "<method>": { "best": { "overrides": {…} } } } }`,
    );
  }
  const out: Partial<Record<MethodName, Overrides>> = {};
  for (const [name, result] of Object.entries(methods)) {
    if (!isMethodName(name)) throw new ConfigError(`${path}: unknown method ${name}`);
    const overrides = field(field(result, 'best'), 'overrides');
    if (typeof overrides !== 'object' || overrides === null) {
      throw new ConfigError(`${path}: ${name}.best.overrides is missing`);
    }
    const checked: Record<string, Scalar> = {};
    for (const [path2, value] of Object.entries(overrides)) {
      if (typeof value !== 'number' && typeof value !== 'string' && typeof value !== 'boolean') {
        throw new ConfigError(`${path}: ${name}.best.overrides.${path2} must be a number, string or boolean`);
      }
      checked[path2] = value;
    }
    out[name] = checked;
  }
  return out;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, name) : undefined;
}
