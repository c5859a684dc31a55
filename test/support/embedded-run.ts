import { EmbeddedEddy, type EmbeddedOptions } from '../../streams/app/embedded.js';
import { codecs } from '../../streams/codec/avro.js';
import type { RecommendationList } from '../../streams/model/events.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../../streams/model/model-config.js';
import type { OutgoingRecord, SourceRecord } from '../../streams/ports/event-log.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { fixedClock } from '../../streams/util/clock.js';

/** A fixed wall clock after every synthetic event time, so validation and list timestamps are reproducible. */
export const TEST_NOW = Date.UTC(2030, 0, 1);

export function testOptions(overrides: Partial<EmbeddedOptions> = {}): EmbeddedOptions {
  return {
    model: DEFAULT_MODEL_CONFIG,
    partitions: 3,
    batchSize: 200,
    lingerMs: 0,
    clock: fixedClock(TEST_NOW),
    metrics: null,
    ...overrides,
  };
}

export function modelWith(overrides: Partial<ModelConfig>): ModelConfig {
  return { ...DEFAULT_MODEL_CONFIG, ...overrides };
}

/**
 * Runs the real embedded pipeline over input that is produced completely before consumption
 * starts, so batch boundaries (and hence coalescing) do not depend on timing.
 */
export async function runPrefed(
  events: Iterable<StreamEvent>,
  options: EmbeddedOptions,
  extra: readonly OutgoingRecord[] = [],
): Promise<EmbeddedEddy> {
  const eddy = new EmbeddedEddy(options);
  const records: OutgoingRecord[] = [];
  for (const e of events) records.push(eddy.encode(e));
  eddy.log.produce([...records, ...extra]);
  await eddy.runToCompletion([]);
  return eddy;
}

export async function readTopic(eddy: EmbeddedEddy, topic: string): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  const partitions = await eddy.log.partitionsOf(topic);
  for (let p = 0; p < partitions; p++) {
    for await (const chunk of eddy.log.readRange(topic, p, 0)) out.push(...chunk);
  }
  return out;
}

export async function emittedLists(eddy: EmbeddedEddy): Promise<RecommendationList[]> {
  const records = await readTopic(eddy, eddy.topics.recommendations);
  return records.map((r) => codecs.recommendationList.decode(r.value ?? new Uint8Array(0)));
}
