/**
 * What the shared item model costs (issue 14): the bytes the item-updates topic adds per input
 * click, and how fast one instance applies the topic — every instance applies every instance's
 * increments, so that rate bounds the click rate of the whole group.
 *
 * An embedded Eddy (the real pipeline, batches of --batch-size) processes a synthetic stream and
 * writes its item-updates topic; fresh replicas (new models) then apply that topic from the start,
 * --repeat times, timed. The replicas must end equal to the pipeline's own model: checked.
 *
 *   npm run bench:item-updates [-- --help]
 */

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MemoryStateStore } from '../streams/adapters/memory/memory-state-store.js';
import { EmbeddedEddy } from '../streams/app/embedded.js';
import { EddyModel } from '../streams/model/eddy-model.js';
import { toItemStateRecord } from '../streams/model/item-state.js';
import { DEFAULT_MODEL_CONFIG } from '../streams/model/model-config.js';
import type { UserPreferences } from '../streams/model/user-preferences.js';
import { userPreferencesSerde } from '../streams/model/user-state-serde.js';
import { ItemModelReplica } from '../streams/pipeline/item-replica.js';
import { syntheticStream } from '../streams/sources/synthetic.js';
import {
  formatCount,
  formatFixed,
  integerFlag,
  markdownTable,
  parseFlags,
  progress,
  settingsOrExitCode,
} from './support.js';

const USAGE = `Usage: node dist/bench/item-updates.bench.js [options]

Measures the item-updates topic (results on stdout, progress on stderr): bytes per input click, and
increments one replica applies per second (decode + apply, from the start of the topic).

Options:
  --events <n>       synthetic click events (default 50,000)
  --batch-size <n>   records per batch of the producing pipeline (default 100, as eddy)
  --repeat <r>       timed replays (default 3)
  --help             show this text`;

interface Settings {
  readonly events: number;
  readonly batchSize: number;
  readonly repeat: number;
}

function parseSettings(argv: readonly string[]): Settings | null {
  const { values } = parseFlags(() =>
    parseArgs({
      args: [...argv],
      strict: true,
      options: {
        events: { type: 'string' },
        'batch-size': { type: 'string' },
        repeat: { type: 'string' },
        help: { type: 'boolean' },
      },
    }),
  );
  if (values.help === true) return null;
  return {
    events: integerFlag('events', values.events, 50_000),
    batchSize: integerFlag('batch-size', values['batch-size'], 100),
    repeat: integerFlag('repeat', values.repeat, 3),
  };
}

function freshModel(): EddyModel {
  const users = new MemoryStateStore<UserPreferences>({
    name: 'bench-users',
    changelogTopic: 'unused',
    serde: userPreferencesSerde,
  });
  return new EddyModel(DEFAULT_MODEL_CONFIG, users, { replicatedItems: true });
}

async function main(): Promise<number> {
  const settings = settingsOrExitCode(() => parseSettings(process.argv.slice(2)), USAGE);
  if (typeof settings === 'number') return settings;
  const eddy = new EmbeddedEddy({
    model: DEFAULT_MODEL_CONFIG,
    partitions: 4,
    batchSize: settings.batchSize,
    lingerMs: 0,
    metrics: null,
  });
  const stream = syntheticStream({
    seed: 42,
    events: settings.events,
    contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
  });
  progress(`item-updates: running the pipeline over ${formatCount(settings.events)} clicks`);
  await eddy.runToCompletion(stream);
  const topic = eddy.topics.itemUpdates;
  let records = 0;
  let bytes = 0;
  let increments = 0;
  for await (const chunk of eddy.log.readRange(topic, 0, 0)) {
    for (const record of chunk) {
      records++;
      bytes += record.value?.length ?? 0;
    }
  }
  let clicks = 0;
  for (let p = 0; p < 4; p++) clicks += eddy.log.endOffset(eddy.topics.clicks, p);

  const seconds: number[] = [];
  let replica: EddyModel | null = null;
  for (let round = 0; round < settings.repeat; round++) {
    const model = freshModel();
    const applier = new ItemModelReplica(model, topic, 'bench');
    const started = performance.now();
    await applier.replay(eddy.log);
    seconds.push((performance.now() - started) / 1000);
    increments = model.incrementsApplied;
    replica = model;
    progress(`item-updates: replay ${round + 1}/${settings.repeat} in ${formatFixed(seconds[round]!, 2)} s`);
  }
  // The replica holds the pipeline's own item model: same topic, same order, same state.
  const own = eddy.model;
  replica!.streamTime = own.streamTime;
  let differing = 0;
  for (const item of own.items.values()) {
    const a = JSON.stringify(toItemStateRecord(own, item.itemId));
    const b = JSON.stringify(toItemStateRecord(replica!, item.itemId));
    if (a !== b) differing++;
  }
  seconds.sort((a, b) => a - b);
  const median = seconds[Math.floor(seconds.length / 2)]!;
  process.stdout.write(
    `${markdownTable(
      [
        'clicks',
        'batch size',
        'records',
        'increments',
        'bytes / click',
        'replay s (median [min–max])',
        'increments / s',
        'items differing from the pipeline',
      ],
      [
        [
          formatCount(clicks),
          String(settings.batchSize),
          formatCount(records),
          formatCount(increments),
          formatFixed(bytes / Math.max(1, clicks), 1),
          `${formatFixed(median, 2)} [${formatFixed(seconds[0]!, 2)}–${formatFixed(seconds[seconds.length - 1]!, 2)}]`,
          formatCount(increments / median),
          `${differing} of ${formatCount(own.items.size)}`,
        ],
      ],
    )}\n`,
  );
  return differing === 0 ? 0 : 1;
}

process.exitCode = await main();
