/**
 * The Qdrant settings, as a fragment of the `eddy` settings table (streams/cli/settings.ts): merge it
 * into the table given to parseSettings/formatHelp, then build the store with
 * `createQdrantVectorStore(settings, metrics)` when `settings.qdrantUrl` is set.
 */

import {
  duration,
  durationOrNever,
  flag,
  formatDuration,
  integer,
  neverIfZero,
  optional,
  type Setting,
  type SettingsOf,
  showOptional,
} from '../../cli/settings.js';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import type { EddyMetrics } from '../../observe/metrics.js';
import { QdrantVectorStore } from './qdrant-vector-store.js';

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

function httpUrl(raw: string): string | undefined {
  try {
    const url = new URL(raw.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? raw.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Letters, digits, `_` and `-` (what every Qdrant version accepts in a collection name), possibly empty. */
function collectionPrefix(raw: string): string | undefined {
  return /^[A-Za-z0-9_-]{0,128}$/.test(raw) ? raw : undefined;
}

function secret(raw: string): string | undefined {
  return raw.length > 0 ? raw : undefined;
}

/** A duration, or 0 / "never" for no limit (kept as 0: the help then reads "default: 0"). */
export const QDRANT_SETTINGS = {
  qdrantUrl: setting({
    flag: 'qdrant-url',
    env: 'QDRANT_URL',
    description: 'Qdrant REST endpoint; when set, vectors live in Qdrant instead of the in-process index',
    expected: 'an http:// or https:// URL such as http://localhost:6333, or none',
    parse: optional(httpUrl),
    show: showOptional,
    default: null as string | null,
  }),
  qdrantApiKey: setting({
    flag: 'qdrant-api-key',
    env: 'QDRANT_API_KEY',
    description: 'Qdrant API key (prefer the variable: flags show in process listings)',
    expected: 'a non-empty string, or none',
    parse: optional(secret),
    show: showOptional,
    default: null as string | null,
  }),
  qdrantCollectionPrefix: setting({
    flag: 'qdrant-collection-prefix',
    env: 'QDRANT_COLLECTION_PREFIX',
    description: 'prefix of Eddy’s Qdrant collection names (items, users)',
    expected: 'letters, digits, _ or -, at most 128; or none',
    parse: (raw: string) => (raw.trim() === 'none' ? '' : collectionPrefix(raw)),
    show: (prefix: string) => prefix || 'none',
    default: '',
  }),
  qdrantTimeout: setting({
    flag: 'qdrant-timeout',
    env: 'QDRANT_TIMEOUT',
    description: 'per-request timeout; a request taking longer is aborted and retried',
    expected: 'a duration such as 500ms or 2s',
    parse: duration,
    show: formatDuration,
    default: 2_000,
  }),
  qdrantUpsertBatch: setting({
    flag: 'qdrant-upsert-batch',
    env: 'QDRANT_UPSERT_BATCH',
    description: 'max points per upsert or delete request (larger writes are split)',
    expected: 'an integer 1–10000',
    parse: integer(1, 10_000),
    default: 256,
  }),
  qdrantExact: setting({
    flag: 'qdrant-exact',
    env: 'QDRANT_EXACT',
    description: 'exact (brute-force) search instead of HNSW',
    expected: 'true or false',
    parse: flag,
    default: false,
    boolean: true,
  }),
  qdrantHnswEf: setting({
    flag: 'qdrant-hnsw-ef',
    env: 'QDRANT_HNSW_EF',
    description: 'HNSW search beam width (0 = the collection’s default)',
    expected: 'an integer 0–100000',
    parse: integer(0, 100_000),
    default: 0,
  }),
  qdrantRetryBase: setting({
    flag: 'qdrant-retry-base',
    env: 'QDRANT_RETRY_BASE',
    description: 'first retry backoff ceiling (doubles per retry, full jitter)',
    expected: 'a duration such as 50ms',
    parse: duration,
    show: formatDuration,
    default: 50,
  }),
  qdrantRetryMax: setting({
    flag: 'qdrant-retry-max',
    env: 'QDRANT_RETRY_MAX',
    description: 'largest retry backoff',
    expected: 'a duration such as 2s',
    parse: duration,
    show: formatDuration,
    default: 2_000,
  }),
  qdrantBreakerThreshold: setting({
    flag: 'qdrant-breaker-threshold',
    env: 'QDRANT_BREAKER_THRESHOLD',
    description: 'consecutive failed requests that open the circuit breaker (calls then wait)',
    expected: 'an integer 1–1000',
    parse: integer(1, 1000),
    default: 5,
  }),
  qdrantBreakerCooldown: setting({
    flag: 'qdrant-breaker-cooldown',
    env: 'QDRANT_BREAKER_COOLDOWN',
    description: 'time the breaker stays open before one probe request',
    expected: 'a duration such as 1s',
    parse: duration,
    show: formatDuration,
    default: 1_000,
  }),
  qdrantStartupTimeout: setting({
    flag: 'qdrant-startup-timeout',
    env: 'QDRANT_STARTUP_TIMEOUT',
    description:
      'how long start-up (collection checks) waits for an unreachable Qdrant before failing; 0 = indefinitely',
    expected: 'a duration such as 30s, or 0',
    parse: durationOrNever,
    show: (ms: number) => (ms === 0 ? '0' : formatDuration(ms)),
    default: 30_000,
  }),
  qdrantGiveUpAfter: setting({
    flag: 'qdrant-give-up-after',
    env: 'QDRANT_GIVE_UP_AFTER',
    description: 'fail (and stop Eddy) when Qdrant stays unreachable this long; 0 = wait for it indefinitely',
    expected: 'a duration such as 10m, or 0',
    parse: durationOrNever,
    show: (ms: number) => (ms === 0 ? '0' : formatDuration(ms)),
    default: 0,
  }),
};

export type QdrantSettings = SettingsOf<typeof QDRANT_SETTINGS>;

/** The default values, for callers that build settings in code (tests, benchmarks). */
export function defaultQdrantSettings(overrides: Partial<QdrantSettings> = {}): QdrantSettings {
  const values: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(QDRANT_SETTINGS)) values[key] = s.default;
  return { ...(values as QdrantSettings), ...overrides };
}

/** The Qdrant vector store the settings describe; `metrics` receives its latency, retries and breaker state. */
export function createQdrantVectorStore(
  settings: QdrantSettings,
  metrics?: EddyMetrics | null,
  logger?: Logger,
): QdrantVectorStore {
  if (settings.qdrantUrl === null) {
    throw new ConfigError(
      `--${QDRANT_SETTINGS.qdrantUrl.flag} / ${QDRANT_SETTINGS.qdrantUrl.env}`,
      QDRANT_SETTINGS.qdrantUrl.expected,
      '',
    );
  }
  return new QdrantVectorStore(
    {
      url: settings.qdrantUrl,
      apiKey: settings.qdrantApiKey,
      collectionPrefix: settings.qdrantCollectionPrefix,
      timeoutMs: settings.qdrantTimeout,
      upsertBatchSize: settings.qdrantUpsertBatch,
      exact: settings.qdrantExact,
      hnswEf: settings.qdrantHnswEf === 0 ? null : settings.qdrantHnswEf,
      retryBaseMs: settings.qdrantRetryBase,
      retryMaxMs: settings.qdrantRetryMax,
      breakerFailureThreshold: settings.qdrantBreakerThreshold,
      breakerCooldownMs: settings.qdrantBreakerCooldown,
      startupGiveUpAfterMs: neverIfZero(settings.qdrantStartupTimeout),
      giveUpAfterMs: neverIfZero(settings.qdrantGiveUpAfter),
      ...(logger ? { logger: logger.child({ component: 'qdrant' }) } : {}),
    },
    metrics ?? null,
  );
}
