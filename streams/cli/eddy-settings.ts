import { DEFAULT_APPROXIMATE_FROM, InMemoryVectorIndex } from '../adapters/memory/exact-vector-index.js';
import { scanKernelAvailable } from '../adapters/memory/simd-scan.js';
import { QDRANT_SETTINGS } from '../adapters/qdrant/qdrant-settings.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../model/model-config.js';
import { KAFKA_CONNECTION_SETTINGS, KAFKA_EDDY_SETTINGS } from './kafka-settings.js';
import {
  decimal,
  duration,
  flag,
  formatDuration,
  integer,
  oneOf,
  type Setting,
  type SettingsOf,
  text,
} from './settings.js';

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

const m = DEFAULT_MODEL_CONFIG;

/** The settings of `eddy` (what `npm start` runs). */
export const EDDY_SETTINGS = {
  dataset: setting({
    flag: 'dataset',
    env: 'EDDY_DATASET',
    description: 'input stream to replay',
    expected: '"synthetic" or "movielens"',
    parse: oneOf('synthetic', 'movielens'),
    default: 'synthetic' as 'synthetic' | 'movielens',
  }),
  path: setting({
    flag: 'path',
    env: 'EDDY_DATASET_PATH',
    description: 'dataset folder (movielens: contains u.data / ratings.dat / ratings.csv)',
    expected: 'a folder path',
    parse: text,
    default: '../shared/datasets/ml-100k',
  }),
  events: setting({
    flag: 'events',
    env: 'EDDY_EVENTS',
    description:
      'synthetic click events to generate (0 = endless); the default runs in about 15 s, 300000 (about 1.5 minutes) is the long run',
    expected: 'an integer ≥ 0',
    parse: integer(0),
    default: 50_000,
  }),
  users: setting({
    flag: 'users',
    env: 'EDDY_USERS',
    description: 'synthetic users',
    expected: 'an integer ≥ 1',
    parse: integer(1),
    default: 2_000,
  }),
  items: setting({
    flag: 'items',
    env: 'EDDY_ITEMS',
    description: 'synthetic catalog size',
    expected: 'an integer ≥ 10',
    parse: integer(10),
    default: 3_000,
  }),
  seed: setting({
    flag: 'seed',
    env: 'EDDY_SEED',
    description: 'seed of the synthetic stream',
    expected: 'an integer ≥ 0',
    parse: integer(0, 2 ** 32 - 1),
    default: 42,
  }),
  follow: setting({
    flag: 'follow',
    env: 'EDDY_FOLLOW',
    description: 'keep serving (metrics, health) after a finite stream ends',
    expected: 'true or false',
    parse: flag,
    default: false,
    boolean: true,
  }),
  httpPort: setting({
    flag: 'http-port',
    env: 'EDDY_HTTP_PORT',
    description: 'port of /metrics, /healthz, /readyz (0 = any free port)',
    expected: 'an integer 0–65535',
    parse: integer(0, 65535),
    default: 9464,
  }),
  partitions: setting({
    flag: 'partitions',
    env: 'EDDY_PARTITIONS',
    description: 'partitions of the topics (in-process; on Kafka, of the topics Eddy creates)',
    expected: 'an integer 1–256',
    parse: integer(1, 256),
    default: 4,
  }),
  batchSize: setting({
    flag: 'batch-size',
    env: 'EDDY_BATCH_SIZE',
    description: 'max records fetched per partition batch',
    expected: 'an integer 1–100000',
    parse: integer(1, 100_000),
    default: 100,
  }),
  coalesceMs: setting({
    flag: 'coalesce',
    env: 'EDDY_COALESCE',
    description: 'window in which one user’s burst of events yields a single list',
    expected: 'a duration such as 20ms or 1s',
    parse: duration,
    show: formatDuration,
    default: 20,
  }),
  dimension: setting({
    flag: 'dimension',
    env: 'EDDY_DIMENSION',
    description: 'embedding dimension',
    expected: 'an integer 2–1024',
    parse: integer(2, 1024),
    default: m.dimension,
  }),
  listSize: setting({
    flag: 'list-size',
    env: 'EDDY_LIST_SIZE',
    description: 'items per recommendation list (K)',
    expected: 'an integer 1–1000',
    parse: integer(1, 1000),
    default: m.ranking.listSize,
  }),
  longTermHalfLife: setting({
    flag: 'long-term-half-life',
    env: 'EDDY_LONG_TERM_HALF_LIFE',
    description: 'half-life of the long-term interest vector',
    expected: 'a duration such as 30d',
    parse: duration,
    show: formatDuration,
    default: m.longTermHalfLifeMs,
  }),
  shortTermHalfLife: setting({
    flag: 'short-term-half-life',
    env: 'EDDY_SHORT_TERM_HALF_LIFE',
    description: 'half-life of the short-term interest vector',
    expected: 'a duration such as 2h',
    parse: duration,
    show: formatDuration,
    default: m.shortTermHalfLifeMs,
  }),
  diversity: setting({
    flag: 'diversity',
    env: 'EDDY_DIVERSITY_LAMBDA',
    description: 'MMR relevance weight (1 = no diversification)',
    expected: 'a number in [0, 1]',
    parse: decimal(0, 1),
    default: m.ranking.diversityLambda,
  }),
  rankingLearningRate: setting({
    flag: 'ranking-learning-rate',
    env: 'EDDY_RANKING_LEARNING_RATE',
    description: 'step size of the ranking weights learned from picks (0 = keep the configured weights)',
    expected: 'a number in [0, 1]',
    parse: decimal(0, 1),
    default: m.ranking.learning.rate,
  }),
  summaryEveryMs: setting({
    flag: 'summary-every',
    env: 'EDDY_SUMMARY_EVERY',
    description: 'interval of the progress summary',
    expected: 'a duration such as 5s',
    parse: duration,
    show: formatDuration,
    default: 5_000,
  }),
  retentionRecords: setting({
    flag: 'retention-records',
    env: 'EDDY_RETENTION_RECORDS',
    description:
      'embedded log: records kept per partition of the clicks, lists and dead-letter topics (bounds memory of long runs)',
    expected: 'an integer ≥ 1000',
    parse: integer(1000),
    default: 20_000,
  }),
  approximateFrom: setting({
    flag: 'approximate-from',
    env: 'EDDY_APPROXIMATE_FROM',
    description:
      'in-process vector index: catalogue size from which search walks an HNSW graph instead of scanning every item (0 = always exact)',
    expected: 'an integer ≥ 0',
    parse: integer(0),
    default: DEFAULT_APPROXIMATE_FROM,
  }),
  examples: setting({
    flag: 'examples',
    env: 'EDDY_EXAMPLES',
    description: 'example lists printed at the end',
    expected: 'an integer 0–100',
    parse: integer(0, 100),
    default: 3,
  }),
  logFormat: setting({
    flag: 'log-format',
    env: 'EDDY_LOG_FORMAT',
    description: 'log format (auto = readable on a terminal, JSON otherwise)',
    expected: '"auto", "pretty" or "json"',
    parse: oneOf('auto', 'pretty', 'json'),
    default: 'auto' as 'auto' | 'pretty' | 'json',
  }),
  logLevel: setting({
    flag: 'log-level',
    env: 'EDDY_LOG_LEVEL',
    description: 'least severe level logged',
    expected: '"debug", "info", "warn" or "error"',
    parse: oneOf('debug', 'info', 'warn', 'error'),
    default: 'info' as 'debug' | 'info' | 'warn' | 'error',
  }),
  ...KAFKA_CONNECTION_SETTINGS,
  ...KAFKA_EDDY_SETTINGS,
  ...QDRANT_SETTINGS,
};

export type EddySettings = SettingsOf<typeof EDDY_SETTINGS>;

export function modelConfigFrom(settings: EddySettings): ModelConfig {
  return {
    ...m,
    dimension: settings.dimension,
    longTermHalfLifeMs: settings.longTermHalfLife,
    shortTermHalfLifeMs: settings.shortTermHalfLife,
    ranking: {
      ...m.ranking,
      listSize: settings.listSize,
      diversityLambda: settings.diversity,
      learning: { ...m.ranking.learning, rate: settings.rankingLearningRate },
    },
  };
}

/** The in-process vector index the settings ask for (when no Qdrant URL is given). */
export function inProcessVectorIndex(settings: EddySettings): InMemoryVectorIndex {
  return new InMemoryVectorIndex({ approximateFrom: approximateFromOf(settings) });
}

function approximateFromOf(settings: EddySettings): number {
  return settings.approximateFrom === 0 ? Number.POSITIVE_INFINITY : settings.approximateFrom;
}

/**
 * The vector store the settings ask for, as the start-up log names it: Qdrant, or how the
 * in-process index searches (an operator should see when the SIMD scan is not in use).
 */
export function vectorStoreDescription(settings: EddySettings): string {
  if (settings.qdrantUrl) return `qdrant ${settings.qdrantUrl}`;
  const kernel = settings.dimension % 4 === 0 && scanKernelAvailable() ? 'WebAssembly SIMD' : 'JavaScript';
  const from = approximateFromOf(settings);
  const graph = Number.isFinite(from) ? `, HNSW graph from ${from.toLocaleString('en')} items` : '';
  return `in-process (exact scan with the ${kernel} kernel${graph})`;
}
