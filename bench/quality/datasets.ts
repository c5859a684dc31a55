/**
 * The streams the quality benchmark replays: Eddy's seeded synthetic stream, MovieLens (any layout
 * `loadMovieLens` reads) and a generic click CSV, each turned into a PreparedDataset.
 */

import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickEvent, ItemEvent } from '../../streams/model/events.js';
import { DatasetError, loadClickCsv, loadMovieLens } from '../../streams/sources/movielens.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import {
  DEFAULT_SYNTHETIC_OPTIONS,
  type SyntheticOptions,
  syntheticStream,
} from '../../streams/sources/synthetic.js';
import type { PreparedDataset } from './harness.js';

export const DATASET_KINDS = ['synthetic', 'movielens', 'csv'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

/** Raised when a dataset that may legitimately be absent (MovieLens is not redistributable) is missing. */
export class DatasetMissing extends Error {
  override readonly name = 'DatasetMissing';
}

/** Click events of the benchmark's default synthetic stream (the generator's own default is 300k). */
export const SYNTHETIC_BENCH_EVENTS = 100_000;

export interface SyntheticDatasetOptions {
  readonly synthetic?: Partial<SyntheticOptions>;
  readonly events?: number;
}

export function syntheticDataset(options: SyntheticDatasetOptions = {}): PreparedDataset {
  const settings: Partial<SyntheticOptions> = {
    ...options.synthetic,
    events: options.events ?? options.synthetic?.events ?? SYNTHETIC_BENCH_EVENTS,
  };
  const resolved = { ...DEFAULT_SYNTHETIC_OPTIONS, ...settings };
  const initial: ItemEvent[] = [];
  const events: StreamEvent[] = [];
  for (const e of syntheticStream(settings)) {
    if (events.length === 0 && e.kind === 'item') initial.push(e.event);
    else events.push(e);
  }
  return prepare(
    'synthetic',
    `synthetic stream (seed ${resolved.seed}, ${resolved.users} users, ${resolved.items} items, ` +
      `${resolved.categories} categories)`,
    initial,
    events,
  );
}

export interface MovieLensDatasetOptions {
  readonly path: string;
  readonly events?: number;
  /** Keep only ratings ≥ this (the "positives only" variant); the stream is filtered, not relabelled. */
  readonly minRating?: number;
}

/** Throws DatasetMissing when the directory does not exist, DatasetError when it is not MovieLens. */
export function movieLensDataset(options: MovieLensDatasetOptions): PreparedDataset {
  if (!exists(options.path)) {
    throw new DatasetMissing(
      `MovieLens not found at ${options.path}: its licence forbids redistribution, so it is not in the ` +
        'repository. Download ml-100k from https://grouplens.org/datasets/movielens/ and unpack it there, ' +
        'or pass --path <dir>.',
    );
  }
  const data = loadMovieLens({ path: options.path });
  let clicks = data.clicks;
  const minRating = options.minRating;
  if (minRating !== undefined) clicks = clicks.filter((c) => Number(c.context.rating) >= minRating);
  if (options.events !== undefined) clicks = clicks.slice(0, options.events);
  const label = minRating === undefined ? 'movielens' : `movielens-r${minRating}`;
  const ratings = minRating === undefined ? 'all ratings' : `ratings >= ${minRating} only`;
  return prepare(
    label,
    `MovieLens ${data.format} at ${options.path} (${ratings})`,
    data.items,
    clicks.map((event) => ({ kind: 'click', event })),
  );
}

export interface CsvDatasetOptions {
  /** One file, or several read as one log. */
  readonly path: string | readonly string[];
  /** Names the tuned-config file and output folder (default `csv`). */
  readonly label?: string;
  readonly thenBy?: readonly string[];
  readonly userColumn: string;
  readonly itemColumn: string;
  readonly timeColumn: string;
  readonly timeUnit: 's' | 'ms';
  readonly delimiter?: string;
  readonly typeColumn?: string;
  readonly events?: number;
}

/** A click log without a catalogue file: the catalogue is every item that occurs in it. */
export function csvDataset(options: CsvDatasetOptions): PreparedDataset {
  const paths = typeof options.path === 'string' ? [options.path] : options.path;
  for (const path of paths) if (!exists(path)) throw new DatasetError(`click log not found: ${path}`);
  let clicks = loadClickCsv({
    path: paths,
    ...(options.thenBy === undefined ? {} : { thenBy: options.thenBy }),
    userColumn: options.userColumn,
    itemColumn: options.itemColumn,
    timeColumn: options.timeColumn,
    timeUnit: options.timeUnit,
    ...(options.delimiter === undefined ? {} : { delimiter: options.delimiter }),
    ...(options.typeColumn === undefined ? {} : { typeColumn: options.typeColumn }),
  });
  if (options.events !== undefined) clicks = clicks.slice(0, options.events);
  const items = new Map<string, ItemEvent>();
  for (const c of clicks) {
    if (!items.has(c.itemId)) items.set(c.itemId, catalogueEntry(c.itemId, c.eventTime));
  }
  return prepare(
    options.label ?? 'csv',
    `click log ${paths.join(' + ')}`,
    [...items.values()],
    clicks.map((event) => ({ kind: 'click', event })),
  );
}

/** The files of the shared YOOCHOOSE sample (RecSys Challenge 2015), read in place, never copied. */
export const YOOCHOOSE_FILES = [
  'yoochoose-clicks-100k_train_full.txt',
  'yoochoose-clicks-100k_test.txt',
] as const;

/**
 * The YOOCHOOSE session log (both files as one log, as its README says): sessions as users, ordered
 * by time, then session id, then file order. Skipped (DatasetMissing) when the folder is absent.
 */
export function yoochooseDataset(options: {
  readonly path: string;
  readonly events?: number;
}): PreparedDataset {
  const paths = YOOCHOOSE_FILES.map((file) => join(options.path, file));
  if (!paths.every(exists)) {
    throw new DatasetMissing(
      `the YOOCHOOSE sample is not at ${options.path} (expected ${YOOCHOOSE_FILES.join(' and ')}); its licence forbids copying it, point --path at your copy`,
    );
  }
  return csvDataset({
    path: paths,
    label: 'yoochoose',
    userColumn: 'SessionId',
    itemColumn: 'ItemId',
    timeColumn: 'Time',
    timeUnit: 's',
    delimiter: '\t',
    thenBy: ['SessionId'],
    ...(options.events === undefined ? {} : { events: options.events }),
  });
}

function catalogueEntry(itemId: string, time: number): ItemEvent {
  return {
    itemId,
    op: 'upsert',
    title: itemId,
    categories: [],
    tags: [],
    available: true,
    contentVector: null,
    updatedAt: Math.max(0, time),
  };
}

/** Keeps the first `events` clicks (and the catalogue changes before the last of them). */
export function truncate(dataset: PreparedDataset, events: number): PreparedDataset {
  const kept: StreamEvent[] = [];
  let clicks = 0;
  for (const e of dataset.events) {
    if (e.kind === 'click') {
      if (clicks >= events) break;
      clicks++;
    }
    kept.push(e);
  }
  return prepare(dataset.label, dataset.description, dataset.initialCatalog, kept);
}

function prepare(
  label: string,
  description: string,
  initialCatalog: readonly ItemEvent[],
  events: readonly StreamEvent[],
): PreparedDataset {
  const items = new Set<string>();
  for (const item of initialCatalog) items.add(item.itemId);
  const users = new Map<string, Set<string>>();
  let clicks = 0;
  let repeatClicks = 0;
  for (const e of events) {
    if (e.kind === 'item') {
      items.add(e.event.itemId);
      continue;
    }
    const click: ClickEvent = e.event;
    clicks++;
    items.add(click.itemId);
    let seen = users.get(click.userId);
    if (seen === undefined) {
      seen = new Set();
      users.set(click.userId, seen);
    }
    if (seen.has(click.itemId)) repeatClicks++;
    else seen.add(click.itemId);
  }
  return {
    label,
    description,
    initialCatalog,
    events,
    clicks,
    users: users.size,
    catalogueSize: items.size,
    repeatClicks,
  };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
