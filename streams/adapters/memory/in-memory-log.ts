/**
 * The in-process event log behind embedded mode. It keeps the Kafka semantics the pipeline relies
 * on — murmur2 key partitioning, per-partition offsets, committed offsets per group, retention,
 * compaction, atomic produce-and-commit — so the pipeline that runs on Kafka runs here unchanged.
 */

import { performance } from 'node:perf_hooks';
import { Observable, type Subscriber } from 'rxjs';
import { EddyError } from '../../errors.js';
import type {
  CommitUnit,
  EventSink,
  EventSource,
  FollowableLog,
  Headers,
  LogFollower,
  LogReader,
  OutgoingRecord,
  SourceBatch,
  SourceRecord,
  TopicPartitionOffset,
  TopicSpec,
} from '../../ports/event-log.js';
import { type Clock, systemClock } from '../../util/clock.js';
import { partitionForKey } from '../../util/murmur2.js';

export interface InMemoryTopicSpec extends TopicSpec {
  /** Overrides the log-wide `retentionRecords` for this topic (`delete` topics only). */
  readonly retentionRecords?: number;
}

export interface InMemoryLogOptions {
  /** Supplies append timestamps when the caller gives none. */
  readonly clock?: Clock;
  /**
   * Most records a partition of a `delete` topic keeps; older ones are dropped and the log start
   * offset moves up. Unbounded when absent.
   */
  readonly retentionRecords?: number;
  /**
   * A compacted partition is compacted automatically once this many records were appended since its
   * last compaction and they are at least half of it (Kafka's min.cleanable.dirty.ratio of 0.5), which
   * keeps compaction amortised O(1) per append. Default 10 000; `Infinity` leaves it to `compact()`.
   */
  readonly compactionThreshold?: number;
}

export interface InMemorySourceOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly maxBatchSize: number;
  /** How long a partition with fewer than `maxBatchSize` records waits for more before a partial batch. */
  readonly lingerMs: number;
  /** `false`: complete once every partition is drained; `true`: wait for new records until `close()`. */
  readonly follow: boolean;
  /**
   * Where a partition without a committed offset starts: the log start (`true`, the default) or its
   * end, i.e. only records appended after subscribing (Kafka's `fromBeginning: false`).
   */
  readonly fromBeginning?: boolean;
  /**
   * The partitions this source reads (of every topic); default all. How several instances share
   * one in-process log as a consumer group's members share topics: each owns a subset.
   */
  readonly partitions?: readonly number[];
}

const EMPTY_HEADERS: Headers = Object.freeze({});
const DEFAULT_COMPACTION_THRESHOLD = 10_000;
/** Records per chunk yielded by `readRange`. */
const READ_CHUNK = 1024;
/**
 * Most batches, and most milliseconds, one source spends in one event-loop turn before its next pump
 * goes through `setImmediate`, so a long replay cannot starve timers and I/O (/metrics, /healthz, the
 * progress timer): microtasks alone never yield. A turn spans pumps, because the pipeline releases
 * each batch after an awaited commit, so every pump is a fresh microtask of one endless chain.
 */
const BATCHES_PER_TURN = 256;
const MS_PER_TURN = 10;

class PartitionLog {
  /** Live records are `records[head..]`; retention advances `head` instead of shifting the array. */
  records: SourceRecord[] = [];
  head = 0;
  startOffset = 0;
  endOffset = 0;
  /** Records appended since the last compaction, and how many survived it. */
  dirty = 0;
  clean = 0;
  /** Wake-ups of the sources reading this partition; each only schedules, so calling them is cheap. */
  readonly listeners = new Set<() => void>();
  notifiedRound = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly compacted: boolean,
    /** Record cap for `delete` topics (Infinity when unbounded). */
    readonly retentionRecords: number,
  ) {}

  get size(): number {
    return this.records.length - this.head;
  }

  /** Index of the first live record with offset >= `offset` (`records.length` when none). */
  indexOf(offset: number): number {
    const records = this.records;
    const head = this.head;
    const first = records[head];
    if (first === undefined || offset <= first.offset) return head;
    // Offsets are contiguous until compaction punches holes, so the direct guess usually hits; and as
    // each index step advances the offset by at least one, the answer is never past the guess.
    const guess = head + (offset - first.offset);
    if (guess < records.length && records[guess]!.offset === offset) return guess;
    let lo = head + 1;
    let hi = Math.min(guess, records.length);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (records[mid]!.offset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  notify(): void {
    for (const listener of this.listeners) listener();
  }
}

interface TopicState {
  readonly name: string;
  readonly partitions: readonly PartitionLog[];
  readonly cleanupPolicy: 'delete' | 'compact';
  nextRoundRobin: number;
}

export class InMemoryLog implements LogReader, FollowableLog {
  private readonly topics = new Map<string, TopicState>();
  /** groupId → `topic\0partition` → next offset to read. */
  private readonly offsets = new Map<string, Map<string, number>>();
  private readonly clock: Clock;
  private readonly retentionRecords: number;
  private readonly compactionThreshold: number;

  constructor(options: InMemoryLogOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.retentionRecords = options.retentionRecords ?? Infinity;
    this.compactionThreshold = options.compactionThreshold ?? DEFAULT_COMPACTION_THRESHOLD;
    checkCount('retentionRecords', this.retentionRecords);
    checkCount('compactionThreshold', this.compactionThreshold);
  }

  /** Creates missing topics; an existing topic must match its spec. All specs are checked before any is created. */
  createTopics(specs: readonly InMemoryTopicSpec[]): void {
    const pending = new Map<string, InMemoryTopicSpec>();
    for (const spec of specs) {
      if (typeof spec.name !== 'string' || spec.name === '') {
        throw new EddyError(`topic name must be a non-empty string, got ${JSON.stringify(spec.name)}`);
      }
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new EddyError(
          `topic ${spec.name}: partitions must be a positive integer, got ${spec.partitions}`,
        );
      }
      const policy = spec.cleanupPolicy ?? 'delete';
      if (policy !== 'delete' && policy !== 'compact') {
        throw new EddyError(`topic ${spec.name}: cleanupPolicy must be 'delete' or 'compact', got ${policy}`);
      }
      if (spec.retentionRecords !== undefined) {
        checkCount(`topic ${spec.name}: retentionRecords`, spec.retentionRecords);
      }
      const current = this.topics.get(spec.name);
      const queued = pending.get(spec.name);
      if (current !== undefined || queued !== undefined) {
        const existingPartitions = current?.partitions.length ?? queued?.partitions;
        const existingPolicy = current?.cleanupPolicy ?? queued?.cleanupPolicy ?? 'delete';
        if (existingPartitions !== spec.partitions) {
          throw new EddyError(
            `topic ${spec.name} already exists with ${existingPartitions} partitions; cannot create it with ${spec.partitions}`,
          );
        }
        if (existingPolicy !== policy) {
          throw new EddyError(
            `topic ${spec.name} already exists with cleanupPolicy '${existingPolicy}'; cannot create it with '${policy}'`,
          );
        }
        continue;
      }
      pending.set(spec.name, spec);
    }
    for (const spec of pending.values()) {
      const cleanupPolicy = spec.cleanupPolicy ?? 'delete';
      const retention =
        cleanupPolicy === 'compact' ? Infinity : (spec.retentionRecords ?? this.retentionRecords);
      const partitions: PartitionLog[] = [];
      for (let p = 0; p < spec.partitions; p++) {
        partitions.push(new PartitionLog(spec.name, p, cleanupPolicy === 'compact', retention));
      }
      this.topics.set(spec.name, { name: spec.name, partitions, cleanupPolicy, nextRoundRobin: 0 });
    }
  }

  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  partitionCount(topic: string): number {
    return this.topic(topic).partitions.length;
  }

  hasTopic(topic: string): boolean {
    return this.topics.has(topic);
  }

  async partitionsOf(topic: string): Promise<number> {
    return this.topic(topic).partitions.length;
  }

  /** The offset the next appended record will get. */
  endOffset(topic: string, partition: number): number {
    return this.partitionLog(topic, partition).endOffset;
  }

  /** The lowest offset still readable; reads from below it start here. */
  startOffset(topic: string, partition: number): number {
    return this.partitionLog(topic, partition).startOffset;
  }

  /** Records currently stored in a partition (after retention and compaction). */
  recordCount(topic: string, partition: number): number {
    return this.partitionLog(topic, partition).size;
  }

  committed(groupId: string, topic: string, partition: number): number | undefined {
    return this.offsets.get(groupId)?.get(offsetKey(topic, partition));
  }

  /**
   * Appends one record. The log keeps `record.value` without copying: like bytes handed to a Kafka
   * producer, it must not be mutated afterwards.
   */
  append(record: OutgoingRecord, timestamp?: number): TopicPartitionOffset {
    if (timestamp !== undefined && !Number.isFinite(timestamp)) {
      throw new EddyError(`timestamp must be a finite number, got ${timestamp}`);
    }
    const log = this.target(record);
    const position = this.write(log, record, timestamp ?? this.clock.now());
    log.notify();
    return position;
  }

  /** Appends records in order, all or none (every record is validated first), then wakes waiting sources. */
  produce(records: readonly OutgoingRecord[]): TopicPartitionOffset[] {
    const targets = records.map((record) => this.target(record));
    const now = this.clock.now();
    const positions: TopicPartitionOffset[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) positions[i] = this.write(targets[i]!, records[i]!, now);
    notifyAll(targets);
    return positions;
  }

  /**
   * Compacts every `compact` topic, or just `topic`: keeps the latest record per key, so a key whose
   * latest record is a tombstone keeps only the tombstone. Returns the number of records removed.
   */
  compact(topic?: string): number {
    let removed = 0;
    if (topic !== undefined) {
      const state = this.topic(topic);
      if (state.cleanupPolicy !== 'compact') {
        throw new EddyError(
          `topic ${topic} has cleanupPolicy 'delete'; only 'compact' topics can be compacted`,
        );
      }
      for (const log of state.partitions) removed += compactPartition(log);
      return removed;
    }
    for (const state of this.topics.values()) {
      if (state.cleanupPolicy !== 'compact') continue;
      for (const log of state.partitions) removed += compactPartition(log);
    }
    return removed;
  }

  async *readRange(
    topic: string,
    partition: number,
    fromOffset: number,
  ): AsyncGenerator<readonly SourceRecord[]> {
    const log = this.partitionLog(topic, partition);
    // The range ends where the log ended when reading began, so a concurrent producer cannot keep it going.
    const end = log.endOffset;
    let position = fromOffset;
    while (position < end) {
      // Indices are recomputed per chunk: retention and compaction may rebuild the array between yields.
      const from = log.indexOf(position);
      const to = Math.min(from + READ_CHUNK, log.indexOf(end));
      if (from >= to) return;
      const chunk = log.records.slice(from, to);
      position = chunk[chunk.length - 1]!.offset + 1;
      yield chunk;
    }
  }

  /** Follows a partition from `fromOffset` (see LogFollower); the in-process log has no open transactions. */
  follow(topic: string, partition: number, fromOffset: number): LogFollower {
    const log = this.partitionLog(topic, partition);
    let position = fromOffset;
    return {
      poll: (max) => {
        position = Math.max(position, log.startOffset);
        if (position >= log.endOffset) return [];
        const from = log.indexOf(position);
        const to = Math.min(from + max, log.indexOf(log.endOffset));
        if (from >= to) return [];
        const chunk = log.records.slice(from, to);
        position = chunk[chunk.length - 1]!.offset + 1;
        return chunk;
      },
      behind: () => Math.max(0, log.endOffset - Math.max(position, log.startOffset)),
      position: () => position,
      close: async () => {},
    };
  }

  source(options: InMemorySourceOptions): EventSource {
    if (typeof options.groupId !== 'string' || options.groupId === '') {
      throw new EddyError(
        `source groupId must be a non-empty string, got ${JSON.stringify(options.groupId)}`,
      );
    }
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) {
      throw new EddyError(`source maxBatchSize must be a positive integer, got ${options.maxBatchSize}`);
    }
    if (!Number.isFinite(options.lingerMs) || options.lingerMs < 0) {
      throw new EddyError(`source lingerMs must be a finite number >= 0, got ${options.lingerMs}`);
    }
    const settings = { ...options, topics: [...new Set(options.topics)] };
    return new MemorySource(settings, () => this.assign(settings));
  }

  sink(): EventSink {
    let closed = false;
    return {
      commit: async (unit: CommitUnit): Promise<void> => {
        if (closed) throw new EddyError('commit on a closed sink');
        this.commitUnit(unit);
      },
      close: async (): Promise<void> => {
        closed = true;
      },
    };
  }

  /**
   * Appends the unit's records and moves the group's committed offsets in one synchronous step, after
   * validating all of it, so no observer (source, reader, crash) ever sees one without the other.
   */
  commitUnit(unit: CommitUnit): void {
    if (typeof unit.groupId !== 'string' || unit.groupId === '') {
      throw new EddyError(`commit groupId must be a non-empty string, got ${JSON.stringify(unit.groupId)}`);
    }
    const targets = unit.records.map((record) => this.target(record));
    for (const { topic, partition, offset } of unit.offsets) {
      const log = this.partitionLog(topic, partition);
      if (!Number.isInteger(offset) || offset < 0 || offset > log.endOffset) {
        throw new EddyError(
          `cannot commit offset ${offset} for ${topic}[${partition}] (group ${unit.groupId}): end offset is ${log.endOffset}`,
        );
      }
    }
    const now = this.clock.now();
    for (let i = 0; i < targets.length; i++) this.write(targets[i]!, unit.records[i]!, now);
    let group = this.offsets.get(unit.groupId);
    if (group === undefined) {
      group = new Map();
      this.offsets.set(unit.groupId, group);
    }
    for (const { topic, partition, offset } of unit.offsets) group.set(offsetKey(topic, partition), offset);
    notifyAll(targets);
  }

  private topic(name: string): TopicState {
    const state = this.topics.get(name);
    if (state === undefined) throw new EddyError(`unknown topic ${name}: create it with createTopics first`);
    return state;
  }

  private partitionLog(topic: string, partition: number): PartitionLog {
    const state = this.topic(topic);
    const log = state.partitions[partition];
    if (log === undefined || !Number.isInteger(partition)) {
      throw new EddyError(
        `topic ${topic} has no partition ${partition} (partitions 0..${state.partitions.length - 1})`,
      );
    }
    return log;
  }

  /** Validates a record and picks its partition without changing the log (except the round-robin cursor). */
  private target(record: OutgoingRecord): PartitionLog {
    const state = this.topic(record.topic);
    if (state.cleanupPolicy === 'compact' && record.key === null) {
      throw new EddyError(`topic ${state.name} is compacted and cannot accept a record without a key`);
    }
    if (record.partition !== undefined) return this.partitionLog(record.topic, record.partition);
    const count = state.partitions.length;
    if (record.key !== null) return state.partitions[partitionForKey(record.key, count)]!;
    const log = state.partitions[state.nextRoundRobin]!;
    state.nextRoundRobin = (state.nextRoundRobin + 1) % count;
    return log;
  }

  private write(log: PartitionLog, record: OutgoingRecord, timestamp: number): TopicPartitionOffset {
    const offset = log.endOffset;
    const stored: SourceRecord = {
      topic: log.topic,
      partition: log.partition,
      offset,
      key: record.key,
      value: record.value,
      timestamp,
      headers: record.headers ?? EMPTY_HEADERS,
    };
    log.records.push(stored);
    log.endOffset = offset + 1;
    if (log.compacted) {
      log.dirty++;
      if (log.dirty >= this.compactionThreshold && log.dirty >= log.clean) compactPartition(log);
    } else if (log.size > log.retentionRecords) {
      dropOldest(log, log.size - log.retentionRecords);
    }
    return { topic: log.topic, partition: log.partition, offset };
  }

  private assign(options: InMemorySourceOptions): Cursor[] {
    const cursors: Cursor[] = [];
    for (const name of options.topics) {
      for (const log of this.topic(name).partitions) {
        if (options.partitions !== undefined && !options.partitions.includes(log.partition)) continue;
        const committed = this.committed(options.groupId, name, log.partition);
        const start = committed ?? (options.fromBeginning === false ? log.endOffset : log.startOffset);
        cursors.push(new Cursor(log, start));
      }
    }
    return cursors;
  }
}

function checkCount(name: string, value: number): void {
  if (!(value === Infinity || (Number.isInteger(value) && value >= 1))) {
    throw new EddyError(`${name} must be a positive integer or Infinity, got ${value}`);
  }
}

function offsetKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

let notifyRound = 0;

/** Wakes each distinct partition once; a round stamp dedupes without allocating a Set per produce. */
function notifyAll(logs: readonly PartitionLog[]): void {
  const round = ++notifyRound;
  for (let i = 0; i < logs.length; i++) {
    const log = logs[i]!;
    if (log.notifiedRound === round) continue;
    log.notifiedRound = round;
    log.notify();
  }
}

function dropOldest(log: PartitionLog, count: number): void {
  log.head += count;
  log.startOffset = log.records[log.head]?.offset ?? log.endOffset;
  // Reclaim the dropped prefix only once it is most of the array, so trimming stays amortised O(1).
  if (log.head >= 1024 && log.head * 2 >= log.records.length) {
    log.records = log.records.slice(log.head);
    log.head = 0;
  }
}

function compactPartition(log: PartitionLog): number {
  const before = log.size;
  const seen = new Set<string | null>();
  const kept: SourceRecord[] = [];
  const records = log.records;
  for (let i = records.length - 1; i >= log.head; i--) {
    const record = records[i]!;
    if (seen.has(record.key)) continue;
    seen.add(record.key);
    kept.push(record);
  }
  kept.reverse();
  log.records = kept;
  log.head = 0;
  log.dirty = 0;
  log.clean = kept.length;
  return before - kept.length;
}

/** One partition as one subscription reads it. */
class Cursor {
  /** Next offset to emit. */
  position: number;
  /** An emitted batch has not been released yet. */
  outstanding = false;
  /** Drained with `follow: false`: never read again. */
  finished = false;
  lingerTimer: ReturnType<typeof setTimeout> | null = null;
  lingerExpired = false;

  constructor(
    readonly log: PartitionLog,
    start: number,
  ) {
    this.position = start;
  }
}

class MemorySource implements EventSource {
  private readonly runs = new Set<SourceRun>();
  private closed = false;

  constructor(
    private readonly options: InMemorySourceOptions,
    private readonly assign: () => Cursor[],
  ) {}

  batches(): Observable<SourceBatch> {
    return new Observable<SourceBatch>((subscriber) => {
      if (this.closed) {
        subscriber.complete();
        return;
      }
      // Assigned at subscribe time so each subscription resumes from the offsets committed by then.
      const run = new SourceRun(subscriber, this.assign(), this.options);
      this.runs.add(run);
      run.start();
      return () => {
        run.stop();
        this.runs.delete(run);
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const run of [...this.runs]) run.complete();
  }
}

class SourceRun {
  private readonly maxBatchSize: number;
  private readonly lingerMs: number;
  private readonly follow: boolean;
  /** A pump is queued (microtask or setImmediate). */
  private scheduled = false;
  /** Inside `pump`: wake-ups just ask for one more pass instead of queueing (no recursion, no extra task). */
  private pumping = false;
  private again = false;
  private stopped = false;
  /** Where the next pass starts, rotated so no partition is always served first. */
  private next = 0;
  /** Open from the first pump of a turn until the event loop reaches its check phase (`endTurn`). */
  private turnOpen = false;
  private turnStarted = 0;
  private turnBatches = 0;
  /**
   * The last batch emitted this turn. While it is outstanding the other partitions wait for its
   * release or the next turn: a consumer that queues batches (concatMap) would otherwise take on
   * one batch per partition at once and work through all of them before the event loop moves on.
   */
  private turnLast: Cursor | null = null;
  /** A partition waited this turn, so `endTurn` pumps again (a consumer holding batches still gets it). */
  private heldBack = false;
  private readonly wake = (): void => this.schedule();
  private readonly pumpNow = (): void => this.pump();
  private readonly endTurn = (): void => {
    this.turnOpen = false;
    this.turnLast = null;
    if (this.heldBack) {
      this.heldBack = false;
      this.schedule();
    }
  };

  constructor(
    private readonly subscriber: Subscriber<SourceBatch>,
    private readonly cursors: readonly Cursor[],
    options: InMemorySourceOptions,
  ) {
    this.maxBatchSize = options.maxBatchSize;
    this.lingerMs = options.lingerMs;
    this.follow = options.follow;
  }

  start(): void {
    for (const cursor of this.cursors) cursor.log.listeners.add(this.wake);
    this.schedule();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const cursor of this.cursors) {
      cursor.log.listeners.delete(this.wake);
      clearLinger(cursor);
    }
  }

  complete(): void {
    this.stop();
    this.subscriber.complete();
  }

  release(cursor: Cursor): void {
    cursor.outstanding = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.pumpNow);
  }

  /** Whether this turn used up its batches or its time; the next pump must wait for a new turn. */
  private turnSpent(): boolean {
    return this.turnBatches >= BATCHES_PER_TURN || performance.now() - this.turnStarted >= MS_PER_TURN;
  }

  private yieldTurn(): void {
    this.scheduled = true;
    setImmediate(this.pumpNow);
  }

  private pump(): void {
    this.scheduled = false;
    if (this.stopped) return;
    if (!this.turnOpen) {
      this.turnOpen = true;
      this.turnStarted = performance.now();
      this.turnBatches = 0;
      // Queued before any yielding pump, so it runs first: that pump starts a fresh turn.
      setImmediate(this.endTurn);
    } else if (this.turnSpent()) {
      this.yieldTurn();
      return;
    }
    const cursors = this.cursors;
    const n = cursors.length;
    this.pumping = true;
    try {
      do {
        this.again = false;
        for (let k = 0; k < n && !this.stopped; k++) {
          const cursor = cursors[(this.next + k) % n]!;
          if (cursor.outstanding || cursor.finished) continue;
          if (this.turnLast?.outstanding) {
            this.heldBack = true;
            break;
          }
          if (!this.emitFrom(cursor)) continue;
          this.turnLast = cursor;
          this.turnBatches++;
          if (this.turnSpent()) {
            this.next = (this.next + k + 1) % n;
            this.yieldTurn();
            return;
          }
        }
        if (n > 0) this.next = (this.next + 1) % n;
      } while (this.again && !this.stopped);
    } finally {
      this.pumping = false;
    }
    if (!this.follow && !this.stopped && cursors.every((cursor) => cursor.finished)) this.complete();
  }

  /** Emits the cursor's next batch if it is due; returns whether it did. */
  private emitFrom(cursor: Cursor): boolean {
    const log = cursor.log;
    const from = log.indexOf(cursor.position);
    const available = log.records.length - from;
    if (available <= 0) {
      if (!this.follow) cursor.finished = true;
      return false;
    }
    if (available < this.maxBatchSize && this.lingerMs > 0 && !cursor.lingerExpired) {
      // A flag set by the timer, not a clock comparison: timers may fire a hair before the deadline.
      cursor.lingerTimer ??= setTimeout(() => {
        cursor.lingerTimer = null;
        cursor.lingerExpired = true;
        this.schedule();
      }, this.lingerMs);
      return false;
    }
    clearLinger(cursor);
    const records = log.records.slice(from, from + Math.min(available, this.maxBatchSize));
    cursor.position = records[records.length - 1]!.offset + 1;
    cursor.outstanding = true;
    this.subscriber.next(new MemoryBatch(this, cursor, records, log.endOffset - cursor.position));
    return true;
  }
}

function clearLinger(cursor: Cursor): void {
  if (cursor.lingerTimer !== null) {
    clearTimeout(cursor.lingerTimer);
    cursor.lingerTimer = null;
  }
  cursor.lingerExpired = false;
}

class MemoryBatch implements SourceBatch {
  readonly topic: string;
  readonly partition: number;
  #released = false;
  readonly #run: SourceRun;
  readonly #cursor: Cursor;

  constructor(
    run: SourceRun,
    cursor: Cursor,
    readonly records: readonly SourceRecord[],
    readonly lag: number,
  ) {
    this.topic = cursor.log.topic;
    this.partition = cursor.log.partition;
    this.#run = run;
    this.#cursor = cursor;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#run.release(this.#cursor);
  }
}
