/**
 * What the item model's periodic checkpoint costs: records, bytes and time per checkpoint for the
 * item state and for the session-kNN index written beside it, the compacted changelogs' size at the
 * end, and the time to restore both from them. The model learns from the seeded synthetic stream
 * as the pipeline would (one checkpoint every --every clicks); results on stdout.
 */
import { parseArgs } from 'node:util';
import { MemoryStateStore } from '../streams/adapters/memory/memory-state-store.js';
import { codecs } from '../streams/codec/avro.js';
import { EddyModel } from '../streams/model/eddy-model.js';
import {
  itemCheckpoint,
  restoreItemState,
  restoreSessionIndex,
  sessionCheckpoint,
} from '../streams/model/item-state.js';
import { DEFAULT_MODEL_CONFIG } from '../streams/model/model-config.js';
import type { UserPreferences } from '../streams/model/user-preferences.js';
import { userPreferencesSerde } from '../streams/model/user-state-serde.js';
import type { OutgoingRecord } from '../streams/ports/event-log.js';
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

const USAGE = `Usage: node dist/bench/checkpoint.bench.js [options]

Feeds the synthetic stream to one model, checkpoints its item state and session-kNN index every
--every clicks, and reports per checkpoint (records, KB, ms) and the restore from the compacted
changelogs, for each user count in --users (sessions are users, so the user count sets how many
sessions the index holds, up to its capacity of ${formatCount(DEFAULT_MODEL_CONFIG.sessionNeighbours.capacity)}).

Options:
  --events N    clicks per run (default 300000)
  --users LIST  comma-separated user counts, one run each (default 2000,100000)
  --items N     catalogue size (default 3000)
  --every N     clicks between checkpoints (default 20000)
  --help        show this help
`;

interface Settings {
  readonly events: number;
  readonly users: readonly number[];
  readonly items: number;
  readonly every: number;
}

function parseSettings(): Settings | null {
  return parseFlags(() => {
    const { values } = parseArgs({
      options: {
        events: { type: 'string' },
        users: { type: 'string' },
        items: { type: 'string' },
        every: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
    if (values.help) return null;
    const users = (values.users ?? '2000,100000').split(',').map((u) => {
      const n = Number(u);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--users must list integers >= 1, got "${u}"`);
      return n;
    });
    return {
      events: integerFlag('events', values.events, 300_000, 1),
      users,
      items: integerFlag('items', values.items, 3_000, 1),
      every: integerFlag('every', values.every, 20_000, 1),
    };
  });
}

interface Totals {
  checkpoints: number;
  records: number;
  bytes: number;
  ms: number;
}

function newModel(): EddyModel {
  const users = new MemoryStateStore<UserPreferences>({
    name: 'bench',
    changelogTopic: 'bench',
    serde: userPreferencesSerde,
  });
  return new EddyModel(DEFAULT_MODEL_CONFIG, users);
}

function take(
  totals: Totals,
  topic: Map<string, Uint8Array | null>,
  checkpoint: () => OutgoingRecord[],
): void {
  const started = performance.now();
  const records = checkpoint();
  totals.ms += performance.now() - started;
  totals.checkpoints++;
  totals.records += records.length;
  for (const record of records) {
    totals.bytes += record.value?.length ?? 0;
    topic.set(record.key ?? '', record.value);
  }
}

function run(settings: Settings, users: number): string[][] {
  const model = newModel();
  const items: Totals = { checkpoints: 0, records: 0, bytes: 0, ms: 0 };
  const sessions: Totals = { checkpoints: 0, records: 0, bytes: 0, ms: 0 };
  const itemTopic = new Map<string, Uint8Array | null>();
  const sessionTopic = new Map<string, Uint8Array | null>();
  let clicks = 0;
  for (const e of syntheticStream({
    seed: 42,
    users,
    items: settings.items,
    events: settings.events,
    contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
  })) {
    if (e.kind === 'item') {
      model.applyItem(e.event);
      continue;
    }
    model.applyClick(e.event);
    if (++clicks % settings.every !== 0) continue;
    model.users.flushChangelog();
    take(items, itemTopic, () => itemCheckpoint(model, 'items'));
    take(sessions, sessionTopic, () => sessionCheckpoint(model.sessions, 'sessions'));
  }
  progress(
    `${formatCount(users)} users: ${formatCount(clicks)} clicks, ${model.sessions.size} sessions indexed`,
  );

  const restored = newModel();
  let started = performance.now();
  for (const value of itemTopic.values()) {
    if (value !== null) restoreItemState(restored, codecs.itemState.decode(value));
  }
  const itemRestoreMs = performance.now() - started;
  started = performance.now();
  restoreSessionIndex(restored.sessions, sessionTopic);
  const sessionRestoreMs = performance.now() - started;

  const bytesOf = (topic: Map<string, Uint8Array | null>) =>
    [...topic.values()].reduce((sum, v) => sum + (v?.length ?? 0), 0);
  const row = (name: string, totals: Totals, topic: Map<string, Uint8Array | null>, restoreMs: number) => [
    formatCount(users),
    name,
    formatCount(Math.round(totals.records / totals.checkpoints)),
    formatFixed(totals.bytes / totals.checkpoints / 1024, 0),
    formatFixed(totals.ms / totals.checkpoints, 1),
    formatCount(topic.size),
    formatFixed(bytesOf(topic) / 1024 / 1024, 1),
    formatFixed(restoreMs, 0),
  ];
  return [
    row('item state', items, itemTopic, itemRestoreMs),
    row('session-kNN index', sessions, sessionTopic, sessionRestoreMs),
  ];
}

async function main(): Promise<number> {
  const settings = settingsOrExitCode(parseSettings, USAGE);
  if (typeof settings === 'number') return settings;
  const rows: string[][] = [];
  for (const users of settings.users) rows.push(...run(settings, users));
  console.log(
    `\n${formatCount(settings.events)} synthetic clicks over ${formatCount(settings.items)} items, ` +
      `a checkpoint every ${formatCount(settings.every)} clicks:\n`,
  );
  console.log(
    markdownTable(
      [
        'users',
        'changelog',
        'records / checkpoint',
        'KB / checkpoint',
        'ms / checkpoint',
        'keys at the end',
        'MB at the end (compacted)',
        'restore ms',
      ],
      rows,
    ),
  );
  return 0;
}

process.exitCode = await main();
