import assert from 'node:assert/strict';
import {
  QdrantVectorStore,
  type QdrantVectorStoreOptions,
} from '../../streams/adapters/qdrant/qdrant-vector-store.js';
import type { EddyMetrics } from '../../streams/observe/metrics.js';
import type { QdrantContractServer } from './qdrant-contract-server.js';

/**
 * Test-sized resilience settings: short timeouts and backoffs so injected faults resolve in
 * milliseconds. Behaviour is asserted, never durations.
 */
export const FAST_RESILIENCE: Partial<QdrantVectorStoreOptions> = {
  timeoutMs: 5_000,
  retryBaseMs: 2,
  retryMaxMs: 20,
  breakerFailureThreshold: 5,
  breakerCooldownMs: 50,
};

let storeCount = 0;

/** A store on the contract server with its own collection prefix, so tests sharing a server never meet. */
export function storeOn(
  server: QdrantContractServer,
  options: Partial<QdrantVectorStoreOptions> = {},
  metrics: EddyMetrics | null = null,
): QdrantVectorStore {
  storeCount++;
  return new QdrantVectorStore(
    { url: server.url, collectionPrefix: `t${storeCount}_`, exact: true, ...FAST_RESILIENCE, ...options },
    metrics,
  );
}

export function assertNoViolations(server: QdrantContractServer): void {
  assert.deepEqual(server.violations, [], 'every request and response held to the Qdrant 1.19 spec');
}

/**
 * A metric's current value summed over the series matching `labels` (0 when none). A histogram's
 * `_count` or `_sum` is named with its suffix.
 */
export async function metricValue(
  metrics: EddyMetrics,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number> {
  const base = name.replace(/_(count|sum)$/, '');
  const metric = metrics.registry.getSingleMetric(name) ?? metrics.registry.getSingleMetric(base);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  let sum = 0;
  for (const v of values) {
    const sample = (v as { metricName?: string }).metricName;
    if (sample !== undefined && sample !== name) continue;
    const l = v.labels as Readonly<Record<string, string | number | undefined>>;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) sum += v.value;
  }
  return sum;
}

export async function until(what: string, done: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
