/**
 * The methods the benchmark knows, their default configurations, configuration overrides given as
 * dotted paths (`ranking.weights.longTerm`), the ablations of Eddy and the tuning grids.
 */

import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../../streams/model/model-config.js';
import { AlsMethod, DEFAULT_ALS_CONFIG } from './baselines/als.js';
import { CoOccurrenceMethod, DEFAULT_COOCCURRENCE_CONFIG } from './baselines/cooccurrence.js';
import { DEFAULT_ISGD_CONFIG, IsgdMethod } from './baselines/isgd.js';
import { DEFAULT_POPULARITY_CONFIG, PopularityMethod } from './baselines/popularity.js';
import { DEFAULT_SESSION_KNN_CONFIG, SessionKnnMethod } from './baselines/session-knn.js';
import { EddyMethod } from './eddy-method.js';
import type { StreamingMethod } from './harness.js';

export const BASELINE_NAMES = ['popularity', 'cooccurrence', 'isgd', 'sknn', 'als'] as const;
export const METHOD_NAMES = ['eddy', ...BASELINE_NAMES] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

export function isMethodName(text: string): text is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(text);
}

export type Scalar = number | string | boolean;
/** Dotted path into a method's configuration → value. */
export type Overrides = Readonly<Record<string, Scalar>>;

const DEFAULTS: Record<MethodName, object> = {
  eddy: DEFAULT_MODEL_CONFIG,
  popularity: DEFAULT_POPULARITY_CONFIG,
  cooccurrence: DEFAULT_COOCCURRENCE_CONFIG,
  isgd: DEFAULT_ISGD_CONFIG,
  sknn: DEFAULT_SESSION_KNN_CONFIG,
  als: DEFAULT_ALS_CONFIG,
};

export function defaultConfig(method: MethodName): object {
  return DEFAULTS[method];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * A deep copy of `base` with each override applied. A path must name an existing leaf, and the
 * value must have the leaf's type, so a typo in a grid file fails loudly instead of tuning nothing.
 */
export function applyOverrides<C extends object>(base: C, overrides: Overrides, what = 'config'): C {
  const copy = structuredClone(base);
  for (const [path, value] of Object.entries(overrides)) {
    const keys = path.split('.');
    let node: unknown = copy;
    for (let i = 0; i < keys.length - 1; i++) {
      node = isRecord(node) ? node[keys[i]!] : undefined;
    }
    const leaf = keys[keys.length - 1]!;
    if (!isRecord(node) || !(leaf in node) || isRecord(node[leaf])) {
      throw new ConfigError(`${what}: ${path} is not a setting`);
    }
    if (typeof node[leaf] !== typeof value) {
      throw new ConfigError(
        `${what}: ${path} must be a ${typeof node[leaf]}, got ${JSON.stringify(value)} (${typeof value})`,
      );
    }
    node[leaf] = value;
  }
  return copy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function eddyConfig(overrides: Overrides): ModelConfig {
  return applyOverrides(DEFAULT_MODEL_CONFIG, overrides, 'eddy');
}

/** A fresh, untrained instance of `method` with `overrides` applied to its defaults. */
export function createMethod(
  method: MethodName,
  overrides: Overrides,
  name: string = method,
): StreamingMethod {
  switch (method) {
    case 'eddy':
      return new EddyMethod(eddyConfig(overrides), name);
    case 'popularity':
      return new PopularityMethod(applyOverrides(DEFAULT_POPULARITY_CONFIG, overrides, method), name);
    case 'cooccurrence':
      return new CoOccurrenceMethod(applyOverrides(DEFAULT_COOCCURRENCE_CONFIG, overrides, method), name);
    case 'isgd':
      return new IsgdMethod(applyOverrides(DEFAULT_ISGD_CONFIG, overrides, method), name);
    case 'als':
      return new AlsMethod(applyOverrides(DEFAULT_ALS_CONFIG, overrides, method), name);
    case 'sknn':
      return new SessionKnnMethod(applyOverrides(DEFAULT_SESSION_KNN_CONFIG, overrides, method), name);
  }
}

/**
 * Eddy with one signal switched off (or, last, the ranking weights not learned), on top of its configuration. A zero weight also stops the
 * signal's retrieval (the recommender skips long-term, short-term and co-visitation queries with a
 * zero weight), except popularity: trending items still fill the candidate set (a new user would
 * otherwise get no list at all), they just no longer score for being popular.
 */
export const ABLATIONS: readonly { readonly signal: string; readonly overrides: Overrides }[] = [
  { signal: 'long-term', overrides: { 'ranking.weights.longTerm': 0 } },
  { signal: 'short-term', overrides: { 'ranking.weights.shortTerm': 0 } },
  { signal: 'co-visitation', overrides: { 'ranking.weights.coVisitation': 0 } },
  { signal: 'sequence', overrides: { 'ranking.weights.sequence': 0 } },
  { signal: 'next-item', overrides: { 'ranking.weights.nextItem': 0 } },
  { signal: 'session-knn', overrides: { 'ranking.weights.sessionKnn': 0 } },
  { signal: 'popularity', overrides: { 'ranking.weights.popularity': 0 } },
  { signal: 'diversity', overrides: { 'ranking.diversityLambda': 1 } },
  // Not a signal: the configured weights kept fixed instead of learned from picks.
  { signal: 'learning', overrides: { 'ranking.learning.rate': 0 } },
  // Not a signal either: one set of learned weights for every ranking context.
  { signal: 'context', overrides: { 'ranking.learning.contextRate': 0 } },
];

export interface MethodGrid {
  /**
   * `grid`: every combination. `coordinate`: from the defaults, one parameter at a time over its
   * values, keeping whatever improves, for `passes` rounds — linear rather than exponential in the
   * number of parameters, which is what makes a grid over many ModelConfig fields affordable.
   */
  readonly search: 'grid' | 'coordinate';
  readonly passes?: number;
  readonly parameters: Readonly<Record<string, readonly Scalar[]>>;
}

export type GridFile = Partial<Record<MethodName, MethodGrid>>;

const HOUR = 3_600_000;

export const DEFAULT_GRIDS: Record<MethodName, MethodGrid> = {
  eddy: {
    search: 'coordinate',
    passes: 2,
    parameters: {
      'ranking.weights.longTerm': [0, 0.5, 1, 2],
      'ranking.weights.shortTerm': [0, 0.5, 1, 2],
      'ranking.weights.coVisitation': [0, 0.5, 1, 2],
      'ranking.weights.sequence': [0, 0.5, 1, 2],
      'ranking.weights.popularity': [0, 0.25, 0.5, 1, 2],
      'ranking.weights.category': [0, 0.3, 1],
      'ranking.diversityLambda': [0.7, 0.85, 1],
      shortTermHalfLifeMs: [0.5 * HOUR, 2 * HOUR, 12 * HOUR, 72 * HOUR],
      'embedding.learningRate': [0.01, 0.025, 0.05, 0.1],
    },
  },
  // A coarse first pass (bench/quality/grid-baselines-coarse.json) on MovieLens and synthetic had
  // cosine normalisation, learnFrom 'positive' (co-occurrence) and popular-item negatives (ISGD)
  // lose on both, and ISGD's optimum at the edge of its ranges: these grids fix the losers and widen
  // the ranges. Optima still on an edge were checked one step beyond it (bench/RESULTS-quality.md).
  popularity: {
    search: 'grid',
    parameters: { halfLifeHours: [0, 0.25, 1, 3, 6, 24, 72, 168, 720], learnFrom: ['all', 'positive'] },
  },
  cooccurrence: {
    search: 'grid',
    parameters: {
      n: [1, 2, 5, 10, 20],
      positionDecay: [1, 0.7, 0.4, 0.2],
      halfLifeHours: [0, 24, 168, 720],
      fallbackHalfLifeHours: [0, 1, 24],
    },
  },
  isgd: {
    search: 'grid',
    parameters: {
      factors: [64, 128, 256],
      learningRate: [0.2, 0.3, 0.4, 0.5],
      regularization: [0.003, 0.01],
      negatives: [10, 30, 100],
      fallbackHalfLifeHours: [1, 24],
    },
  },
  // One parameter at a time: a full grid over VSTAN's parameters would be thousands of runs.
  sknn: {
    search: 'coordinate',
    passes: 2,
    parameters: {
      sessionLength: [3, 5, 10, 20],
      neighbours: [20, 50, 100, 200],
      sampleSize: [100, 500, 1000],
      positionDecay: [0.5, 1, 2, 5, 100],
      recencyHalfLifeMs: [0, HOUR, 24 * HOUR, 168 * HOUR],
      neighbourPositionDecay: [0.5, 1, 2, 5, 100],
      beforeWeight: [0, 0.25, 0.5, 1],
      idfWeight: [0, 0.5, 1, 2],
    },
  },
  // Each trial retrains 100 times, so the grid stays small: the confidence and the regularisation.
  als: {
    search: 'coordinate',
    passes: 1,
    parameters: {
      alpha: [1, 10, 40],
      regularization: [0.01, 0.1, 1],
      factors: [16, 32, 64],
    },
  },
};

/** Every combination of the grid's values, in a fixed order (first parameter varies slowest). */
export function gridPoints(parameters: Readonly<Record<string, readonly Scalar[]>>): Overrides[] {
  let points: Record<string, Scalar>[] = [{}];
  for (const [path, values] of Object.entries(parameters)) {
    const next: Record<string, Scalar>[] = [];
    for (const point of points) for (const value of values) next.push({ ...point, [path]: value });
    points = next;
  }
  return points;
}

/** Validates a `--grid` file: `{ "<method>": { "search"?, "passes"?, "parameters": { path: [values] } } }`. */
export function parseGridFile(json: unknown, source: string): GridFile {
  if (!isRecord(json)) throw new ConfigError(`${source}: expected a JSON object keyed by method name`);
  const grids: Partial<Record<MethodName, MethodGrid>> = {};
  for (const [method, spec] of Object.entries(json)) {
    if (!isMethodName(method)) {
      throw new ConfigError(`${source}: unknown method ${method} (methods: ${METHOD_NAMES.join(', ')})`);
    }
    if (!isRecord(spec) || !isRecord(spec.parameters)) {
      throw new ConfigError(`${source}: ${method} needs a "parameters" object of path → [values]`);
    }
    const search = spec.search ?? DEFAULT_GRIDS[method].search;
    if (search !== 'grid' && search !== 'coordinate') {
      throw new ConfigError(`${source}: ${method}.search must be "grid" or "coordinate"`);
    }
    const passes = spec.passes ?? 2;
    if (typeof passes !== 'number' || !Number.isInteger(passes) || passes < 1) {
      throw new ConfigError(`${source}: ${method}.passes must be a positive integer`);
    }
    const parameters: Record<string, Scalar[]> = {};
    for (const [path, values] of Object.entries(spec.parameters)) {
      if (!Array.isArray(values) || values.length === 0 || !values.every(isScalar)) {
        throw new ConfigError(`${source}: ${method}.parameters.${path} must be a non-empty array of values`);
      }
      // Fails on a path or type the method does not have.
      for (const value of values) applyOverrides(DEFAULTS[method], { [path]: value }, `${source}: ${method}`);
      parameters[path] = values;
    }
    grids[method] = { search, passes, parameters };
  }
  return grids;
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean';
}
