/**
 * Memory per user and per item of the model state Eddy keeps in process, measured: heap after a
 * full GC with the state reachable, minus the heap before it was built, divided by the users or
 * items. Every per-user and per-item structure is bounded (recent, seen, categories; neighbours per
 * item), so the figures at saturation are the bounds a deployment plans with.
 *
 *   npm run bench:state-memory [-- --help]
 */

import { parseArgs } from 'node:util';
import { MemoryStateStore } from '../streams/adapters/memory/memory-state-store.js';
import { EddyModel } from '../streams/model/eddy-model.js';
import type { ClickEvent } from '../streams/model/events.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../streams/model/model-config.js';
import { SessionNeighbours } from '../streams/model/session-neighbours.js';
import type { UserPreferences } from '../streams/model/user-preferences.js';
import { userPreferencesSerde } from '../streams/model/user-state-serde.js';
import { syntheticStream } from '../streams/sources/synthetic.js';
import { Random } from '../streams/util/random.js';
import {
  formatCount,
  formatFixed,
  garbageCollector,
  integerFlag,
  markdownTable,
  parseFlags,
  progress,
  settingsOrExitCode,
} from './support.js';

const USAGE = `Usage: node dist/bench/state-memory.bench.js [options]

Builds model state and measures heap after GC per user and per item (results on stdout):
  users   U users, each with H clicks on random items of a small catalogue, for each H in --histories
  items   the synthetic stream over I items until co-visitation neighbour lists fill up

Options:
  --users <n>        users per history length (default 2,000)
  --histories <list> clicks per user, comma-separated (default 10,100,1000,3000: past seenLimit ${DEFAULT_MODEL_CONFIG.seenLimit})
  --items <n>        catalogue size for the item measurement (default 2,000)
  --item-events <n>  clicks for the item measurement (default 300,000)
  --help             show this text`;

interface Settings {
  readonly users: number;
  readonly histories: readonly number[];
  readonly items: number;
  readonly itemEvents: number;
}

function parseSettings(argv: readonly string[]): Settings | null {
  const { values } = parseFlags(() =>
    parseArgs({
      args: [...argv],
      strict: true,
      options: {
        users: { type: 'string' },
        histories: { type: 'string' },
        items: { type: 'string' },
        'item-events': { type: 'string' },
        help: { type: 'boolean' },
      },
    }),
  );
  if (values.help === true) return null;
  return {
    users: integerFlag('users', values.users, 2_000),
    histories: (values.histories ?? '10,100,1000,3000').split(',').map((h) => integerFlag('histories', h, 0)),
    items: integerFlag('items', values.items, 2_000),
    itemEvents: integerFlag('item-events', values['item-events'], 300_000),
  };
}

function newModel(config: ModelConfig = DEFAULT_MODEL_CONFIG): EddyModel {
  const users = new MemoryStateStore<UserPreferences>({
    name: 'bench',
    changelogTopic: 'bench',
    serde: userPreferencesSerde,
  });
  return new EddyModel(config, users);
}

/** Forgets every user (as a changelog tombstone would), leaving the item side as it is. */
function dropUsers(model: EddyModel): void {
  const keys = [...model.users.entries()].map(([key]) => ({ key, value: null }));
  model.users.restore(keys);
}

/**
 * Heap in use after full GCs, once it stops moving: a large structure freed just before (the
 * previous measurement's model) is reclaimed over several cycles, which would otherwise be
 * counted against whatever is measured next.
 */
async function heapAfterGc(gc: () => void): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    // Typed arrays (embeddings, the session index's slots) live outside the JS heap.
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    const used = heapUsed + arrayBuffers;
    if (Math.abs(last - used) < 64 * 1024) return used;
    last = used;
  }
  return last;
}

/** The session-kNN index alone at saturation: every slot used, every item's ring of sessions full. */
async function measureSessionIndex(gc: () => void, sessionItems: number): Promise<string[]> {
  const sessionConfig = DEFAULT_MODEL_CONFIG.sessionNeighbours;
  const emptyIndex = await heapAfterGc(gc);
  const index = new SessionNeighbours(sessionConfig);
  const slotsOnly = (await heapAfterGc(gc)) - emptyIndex;
  const sessionClicks =
    sessionItems * sessionConfig.sessionsPerItem + sessionConfig.capacity * sessionConfig.sessionLength;
  const preceding: string[] = [];
  for (let c = 0, session = 0; c < sessionClicks; session++) {
    preceding.length = 0;
    for (let i = 0; i < sessionConfig.sessionLength && c < sessionClicks; i++, c++) {
      const itemId = `i${(c * 7_919 + session * 31) % sessionItems}`;
      index.record(`s${session}`, preceding, itemId, c);
      preceding.push(itemId);
    }
  }
  const indexBytes = (await heapAfterGc(gc)) - emptyIndex;
  const row = [
    formatCount(index.size),
    formatFixed(slotsOnly / 1024 / 1024, 1),
    formatFixed(indexBytes / 1024 / 1024, 1),
    formatCount(Math.round((indexBytes - slotsOnly) / sessionItems)),
  ];
  // Reachable until measured.
  if (index.size < 0) throw new Error('unreachable');
  return row;
}

async function main(): Promise<number> {
  const settings = settingsOrExitCode(() => parseSettings(process.argv.slice(2)), USAGE);
  if (typeof settings === 'number') return settings;
  const gc = garbageCollector();
  if (gc === null) {
    process.stderr.write('state-memory: needs a garbage collector to call (node --expose-gc)\n');
    return 2;
  }

  // Per user: the heap the users free when dropped (their clicks also grow the item side, which stays).
  const CATALOGUE = 5_000;
  const userRows: string[][] = [];
  for (const history of settings.histories) {
    const random = new Random(history);
    const model = newModel();
    for (let i = 0; i < CATALOGUE; i++) {
      model.applyItem({
        itemId: `i${i}`,
        op: 'upsert',
        title: `item ${i}`,
        categories: [`c${i % 20}`],
        tags: [],
        available: true,
        contentVector: null,
        updatedAt: 0,
      });
    }
    const time = Date.UTC(2024, 0, 1);
    for (let u = 0; u < settings.users; u++) {
      for (let h = 0; h < history; h++) {
        const click: ClickEvent = {
          eventId: `e${u}-${h}`,
          userId: `user-${u}`,
          itemId: `i${random.int(CATALOGUE)}`,
          type: 'click',
          eventTime: time + 1_000 * (u * history + h),
          sessionId: null,
          context: {},
        };
        model.applyClick(click);
      }
      model.users.flushChangelog();
    }
    const sample = model.users.get('user-0');
    const seen = sample?.seen.size ?? 0;
    const recent = sample?.recent.length ?? 0;
    const categories = sample?.categoryAffinity.size ?? 0;
    // The users alone: the heap they free when dropped (the clicks also grew the item side).
    const withUsers = await heapAfterGc(gc);
    dropUsers(model);
    const perUser = (withUsers - (await heapAfterGc(gc))) / settings.users;
    userRows.push([
      formatCount(history),
      formatCount(seen),
      formatCount(recent),
      formatCount(categories),
      formatFixed(perUser / 1024, 1),
    ]);
    progress(`users: ${history} clicks each → ${formatFixed(perUser / 1024, 1)} KiB per user`);
  }

  const sessionItems = settings.items;
  const sessionConfig = DEFAULT_MODEL_CONFIG.sessionNeighbours;
  const sessionRow = await measureSessionIndex(gc, sessionItems);
  progress(`session-kNN index: ${sessionRow.join(', ')}`);

  // Per item: the synthetic stream until neighbour lists fill; the users are dropped before measuring.
  const model = newModel();
  const before = await heapAfterGc(gc);
  let clicks = 0;
  for (const e of syntheticStream({
    seed: 7,
    users: 200,
    items: settings.items,
    events: settings.itemEvents,
    contentVectorDimension: DEFAULT_MODEL_CONFIG.dimension,
  })) {
    if (e.kind === 'item') model.applyItem(e.event);
    else {
      model.applyClick(e.event);
      if (++clicks % 10_000 === 0) {
        // What the pipeline does between batches: changelog records and drifted vectors taken.
        model.users.flushChangelog();
        model.items.takeDrifted();
      }
    }
  }
  model.users.flushChangelog();
  dropUsers(model);
  const after = await heapAfterGc(gc);
  let neighbours = 0;
  let withNeighbours = 0;
  for (const item of model.items.values()) {
    const n = model.coVisitation.neighbourCount(item.itemId);
    neighbours += n;
    if (n > 0) withNeighbours++;
  }
  const items = model.items.size;
  const perItem = (after - before) / items;

  process.stdout.write(
    `Per user (${formatCount(settings.users)} users, catalogue of ${formatCount(CATALOGUE)} items measured separately):\n\n` +
      `${markdownTable(['clicks per user', 'seen', 'recent', 'categories', 'KiB per user'], userRows)}\n\n` +
      `Per item (${formatCount(items)} items after ${formatCount(clicks)} synthetic clicks; ` +
      `${formatCount(withNeighbours)} with neighbours, ${formatFixed(neighbours / Math.max(1, withNeighbours), 0)} neighbours each on average, cap ${DEFAULT_MODEL_CONFIG.coVisitation.maxNeighbours} × 1.5 between prunes):\n\n` +
      `${markdownTable(
        ['heap MiB', 'KiB per item', 'bytes per neighbour (all item state / neighbours)'],
        [
          [
            formatFixed((after - before) / 1024 / 1024, 1),
            formatFixed(perItem / 1024, 1),
            formatFixed((after - before) / Math.max(1, neighbours), 0),
          ],
        ],
      )}\n\n` +
      `Session-kNN index at saturation (${formatCount(sessionItems)} items, every ring of ${sessionConfig.sessionsPerItem} sessions full; part of the per-item figure above, which includes everything the model holds):\n\n` +
      `${markdownTable(['sessions held', 'slots MiB (fixed)', 'index MiB', 'bytes per item beyond the slots'], [sessionRow])}\n`,
  );
  return 0;
}

process.exitCode = await main();
