/**
 * The prequential ("test, then train") loop every method runs through. For each click in time
 * order the method first serves the user a list from its state before the event, the list is
 * scored against the clicked item, and only then does the method learn from the click.
 */

import { performance } from 'node:perf_hooks';
import type { ClickEvent, ItemEvent } from '../../streams/model/events.js';
import type { StreamEvent } from '../../streams/sources/stream-event.js';
import { CUTOFF, LIST_SIZE, MetricSums, rankOf, type SplitMetrics, summarize } from './metrics.js';

/**
 * A recommender under test. Every method learns from every event (negative ones included: the
 * user did interact with the item) and excludes items the user already interacted with.
 */
export interface StreamingMethod {
  readonly name: string;
  /** The initial catalogue, before the first click, and the shape of the stream to come. */
  start?(catalog: readonly ItemEvent[], stream?: StreamShape): Promise<void> | void;
  /** A catalogue change in the middle of the stream (upsert, retirement, delete), in stream order. */
  catalog?(event: ItemEvent): Promise<void> | void;
  /** The best `k` items for the user from the method's current state, best first. */
  serve(userId: string, k: number): Promise<readonly string[]> | readonly string[];
  learn(event: ClickEvent): Promise<void> | void;
  /** Releases resources (pipelines, timers) once the stream is over. */
  close?(): Promise<void> | void;
}

/** What a method may know about the stream before it starts (a live-retraining period in clicks). */
export interface StreamShape {
  readonly clicks: number;
}

export interface PreparedDataset {
  /** Names the tuned-config file and the output folder: `synthetic`, `movielens`, `movielens-r4`, `csv`. */
  readonly label: string;
  readonly description: string;
  readonly initialCatalog: readonly ItemEvent[];
  /** Clicks, and catalogue changes after the initial catalogue, in stream order. */
  readonly events: readonly StreamEvent[];
  readonly clicks: number;
  readonly users: number;
  /** Distinct items in the catalogue and the clicks: the denominator of coverage. */
  readonly catalogueSize: number;
  /**
   * Clicks on an item the same user interacted with before. Every method excludes seen items, so
   * such a click can never be a hit: it is learned from but not scored (`MethodRun.skippedRepeats`).
   */
  readonly repeatClicks: number;
}

export const SPLIT_PHASES = ['validation', 'evaluation'] as const;
export type SplitPhase = (typeof SPLIT_PHASES)[number];
export const USER_GROUPS = ['overall', 'cold', 'warm'] as const;
export type UserGroup = (typeof USER_GROUPS)[number];

export interface HarnessOptions {
  /** Fraction of the clicks (from the start) that form the validation prefix. */
  readonly validationFraction: number;
  /** Users with fewer prior events than this are cold. */
  readonly coldThreshold: number;
  /** Events per point of the windowed curve. */
  readonly window: number;
  /** Stop after the validation prefix (tuning). */
  readonly validationOnly: boolean;
  readonly onProgress?: (done: number, total: number, elapsedMs: number) => void;
}

export const DEFAULT_HARNESS_OPTIONS: HarnessOptions = {
  validationFraction: 0.2,
  coldThreshold: 5,
  window: 5_000,
  validationOnly: false,
};

export interface WindowPoint {
  /** Index of the window's first click (0-based, over the whole stream). */
  readonly start: number;
  readonly events: number;
  readonly 'hr@10': number;
  readonly 'ndcg@10': number;
}

export interface MethodRun {
  readonly method: string;
  readonly splits: Record<SplitPhase, Record<UserGroup, SplitMetrics>>;
  readonly windows: readonly WindowPoint[];
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Served top-10 entries the user had already interacted with (every method should exclude them). */
  readonly servedSeen: number;
  /** Served lists shorter than LIST_SIZE. */
  readonly shortLists: number;
  /** Clicks on an item the user had interacted with before: learned from, not scored. */
  readonly skippedRepeats: number;
}

export function validationEvents(clicks: number, fraction: number): number {
  return Math.floor(clicks * fraction);
}

class Cell {
  readonly sums = new MetricSums();
  readonly covered = new Set<string>();
}

/** Runs one method over the dataset under the prequential protocol. */
export async function runPrequential(
  method: StreamingMethod,
  dataset: PreparedDataset,
  options: HarnessOptions = DEFAULT_HARNESS_OPTIONS,
): Promise<MethodRun> {
  const boundary = validationEvents(dataset.clicks, options.validationFraction);
  const total = options.validationOnly ? boundary : dataset.clicks;
  const cells = {} as Record<SplitPhase, Record<UserGroup, Cell>>;
  for (const phase of SPLIT_PHASES) {
    cells[phase] = { overall: new Cell(), cold: new Cell(), warm: new Cell() };
  }
  const windows: { sums: MetricSums; start: number }[] = [];
  const users = new Map<string, { seen: Set<string>; events: number }>();
  let servedSeen = 0;
  let shortLists = 0;
  let skippedRepeats = 0;

  const started = performance.now();
  let lastProgress = started;
  await method.start?.(dataset.initialCatalog, { clicks: dataset.clicks });
  let index = 0;
  try {
    for (const entry of dataset.events) {
      if (index >= total) break;
      if (entry.kind === 'item') {
        await method.catalog?.(entry.event);
        continue;
      }
      const event = entry.event;
      let history = users.get(event.userId);
      if (history === undefined) {
        history = { seen: new Set(), events: 0 };
        users.set(event.userId, history);
      }
      // Seen items are excluded from every list, so a repeat can never be a hit: scoring it as a
      // miss would only scale every method down by the share of repeats (27% on a session log).
      if (history.seen.has(event.itemId)) {
        skippedRepeats++;
        await method.learn(event);
        history.events++;
        index++;
        continue;
      }
      const list = await method.serve(event.userId, LIST_SIZE);
      const rank = rankOf(list, event.itemId);
      if (list.length < LIST_SIZE) shortLists++;

      const phase: SplitPhase = index < boundary ? 'validation' : 'evaluation';
      const group: UserGroup = history.events < options.coldThreshold ? 'cold' : 'warm';
      const top = Math.min(list.length, CUTOFF);
      for (const cell of [cells[phase].overall, cells[phase][group]]) {
        cell.sums.add(rank);
        for (let i = 0; i < top; i++) cell.covered.add(list[i]!);
      }
      for (let i = 0; i < top; i++) if (history.seen.has(list[i]!)) servedSeen++;
      const w = Math.floor(index / options.window);
      let point = windows[w];
      if (point === undefined) {
        point = { sums: new MetricSums(), start: w * options.window };
        windows[w] = point;
      }
      point.sums.add(rank);

      await method.learn(event);
      history.seen.add(event.itemId);
      history.events++;
      index++;
      if (options.onProgress !== undefined && (index & 255) === 0) {
        const now = performance.now();
        if (now - lastProgress >= 2_000) {
          lastProgress = now;
          options.onProgress(index, total, now - started);
        }
      }
    }
  } finally {
    await method.close?.();
  }
  const seconds = (performance.now() - started) / 1000;
  const eventsPerSecond = seconds > 0 ? index / seconds : Number.NaN;
  options.onProgress?.(index, total, seconds * 1000);

  const splits = {} as Record<SplitPhase, Record<UserGroup, SplitMetrics>>;
  for (const phase of SPLIT_PHASES) {
    const out = {} as Record<UserGroup, SplitMetrics>;
    for (const group of USER_GROUPS) {
      const cell = cells[phase][group];
      out[group] = summarize(cell.sums, cell.covered.size, dataset.catalogueSize, eventsPerSecond);
    }
    splits[phase] = out;
  }
  return {
    method: method.name,
    splits,
    windows: windows.map(({ sums, start }) => ({
      start,
      events: sums.events,
      'hr@10': sums.events > 0 ? sums.hits10 / sums.events : Number.NaN,
      'ndcg@10': sums.events > 0 ? sums.ndcg10 / sums.events : Number.NaN,
    })),
    events: index,
    seconds,
    eventsPerSecond,
    servedSeen,
    shortLists,
    skippedRepeats,
  };
}
