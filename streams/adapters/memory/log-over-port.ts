import { Observable } from 'rxjs';
import { EddyError } from '../../errors.js';
import type {
  CommitUnit,
  EventSink,
  EventSource,
  FollowableLog,
  LogFollower,
  LogReader,
  SourceBatch,
  SourceRecord,
} from '../../ports/event-log.js';
import type { InMemoryLog, InMemorySourceOptions } from './in-memory-log.js';

/**
 * The in-process log shared with pipeline threads. A worker thread cannot reach another thread's
 * objects, so the log stays in the thread that owns it (`serveLog`) and each pipeline thread
 * reaches it through a `PortLog` over a MessagePort: the same ports (source, sink, reader,
 * follower) with one message per batch, commit unit or range, never per record, so the crossing
 * costs one structured clone of what the pipeline would have read anyway.
 *
 * The log's guarantees carry over unchanged: a commit unit is applied by the owning thread in one
 * synchronous step, a partition's next batch waits for the previous one's release, and a follower
 * hands out the followed partition in its one order.
 */

/** The two ends talk through this much of a MessagePort (node:worker_threads or a test double). */
export interface LogPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/** End and committed offsets as last reported by the owning thread (for lag, read synchronously). */
interface OffsetsSnapshot {
  /** `topic/partition` → end offset. */
  readonly ends: ReadonlyArray<readonly [string, number]>;
  /** `group/topic/partition` → committed offset. */
  readonly committed: ReadonlyArray<readonly [string, number]>;
}

type ToOwner =
  | { readonly type: 'source'; readonly sourceId: number; readonly options: InMemorySourceOptions }
  | { readonly type: 'release'; readonly batchId: number }
  | { readonly type: 'close-source'; readonly sourceId: number; readonly requestId: number }
  | { readonly type: 'commit'; readonly requestId: number; readonly unit: CommitUnit }
  | {
      readonly type: 'read-range';
      readonly requestId: number;
      readonly topic: string;
      readonly partition: number;
      readonly fromOffset: number;
    }
  | { readonly type: 'partitions-of'; readonly requestId: number; readonly topic: string }
  | {
      readonly type: 'follow';
      readonly followerId: number;
      readonly topic: string;
      readonly partition: number;
      readonly fromOffset: number;
    }
  | { readonly type: 'close-follower'; readonly followerId: number };

type FromOwner =
  | {
      readonly type: 'batch';
      readonly sourceId: number;
      readonly batchId: number;
      readonly topic: string;
      readonly partition: number;
      readonly records: readonly SourceRecord[];
      readonly lag: number;
    }
  | { readonly type: 'source-end'; readonly sourceId: number; readonly error: string | null }
  | {
      readonly type: 'reply';
      readonly requestId: number;
      readonly error: string | null;
      readonly value: unknown;
    }
  | {
      readonly type: 'followed';
      readonly followerId: number;
      readonly records: readonly SourceRecord[];
      readonly behind: number;
      readonly position: number;
    }
  | { readonly type: 'offsets'; readonly offsets: OffsetsSnapshot };

/** Most records one `followed` message carries; the rest follow in further messages. */
const FOLLOW_CHUNK = 10_000;
/** How often the owner reports offsets and checks followed partitions when nothing else prompts it. */
const REFRESH_MS = 50;

/**
 * Serves `log` to the pipeline thread at the other end of `port`. Followers and offset reports are
 * pushed after every commit unit (where the followed topic changes) and every 50 ms besides.
 * Returns a function that stops serving (sources closed, timer cleared).
 */
export function serveLog(log: InMemoryLog, port: LogPort, groupIds: readonly string[]): () => void {
  const send = (message: FromOwner): void => port.postMessage(message);
  const sources = new Map<number, { close(): Promise<void>; unsubscribe(): void }>();
  const batches = new Map<number, SourceBatch>();
  const followers = new Map<number, LogFollower>();
  let nextBatch = 0;

  const pushFollowed = (): void => {
    for (const [followerId, follower] of followers) {
      for (;;) {
        const records = follower.poll(FOLLOW_CHUNK);
        if (records.length === 0) break;
        send({
          type: 'followed',
          followerId,
          records,
          behind: follower.behind(),
          position: follower.position(),
        });
      }
    }
  };
  const reportOffsets = (): void => send({ type: 'offsets', offsets: offsetsOf(log, groupIds) });
  const refresh = setInterval(() => {
    pushFollowed();
    reportOffsets();
  }, REFRESH_MS);
  refresh.unref();

  const reply = (requestId: number, work: () => unknown): void => {
    Promise.resolve()
      .then(work)
      .then(
        (value) => send({ type: 'reply', requestId, error: null, value }),
        (error: unknown) => send({ type: 'reply', requestId, error: messageOf(error), value: null }),
      );
  };

  port.on('message', (raw) => {
    const message = raw as ToOwner;
    switch (message.type) {
      case 'source': {
        const source = log.source(message.options);
        const subscription = source.batches().subscribe({
          next: (batch) => {
            const batchId = nextBatch++;
            batches.set(batchId, batch);
            const { topic, partition, records, lag } = batch;
            send({ type: 'batch', sourceId: message.sourceId, batchId, topic, partition, records, lag });
          },
          complete: () => send({ type: 'source-end', sourceId: message.sourceId, error: null }),
          error: (error: unknown) =>
            send({ type: 'source-end', sourceId: message.sourceId, error: messageOf(error) }),
        });
        sources.set(message.sourceId, {
          close: () => source.close(),
          unsubscribe: () => subscription.unsubscribe(),
        });
        return;
      }
      case 'release':
        batches.get(message.batchId)?.release();
        batches.delete(message.batchId);
        return;
      case 'close-source':
        reply(message.requestId, async () => {
          await sources.get(message.sourceId)?.close();
          sources.delete(message.sourceId);
        });
        return;
      case 'commit':
        reply(message.requestId, () => {
          log.commitUnit(message.unit);
          // The unit may have appended to a followed topic: hand it on now rather than at the next tick.
          pushFollowed();
          return offsetsOf(log, groupIds);
        });
        return;
      case 'read-range':
        reply(message.requestId, async () => {
          const chunks: (readonly SourceRecord[])[] = [];
          for await (const chunk of log.readRange(message.topic, message.partition, message.fromOffset)) {
            chunks.push(chunk);
          }
          return chunks;
        });
        return;
      case 'partitions-of':
        reply(message.requestId, () => log.partitionsOf(message.topic));
        return;
      case 'follow':
        followers.set(message.followerId, log.follow(message.topic, message.partition, message.fromOffset));
        pushFollowed();
        return;
      case 'close-follower':
        followers.delete(message.followerId);
        return;
    }
  });
  reportOffsets();

  return () => {
    clearInterval(refresh);
    for (const source of sources.values()) {
      source.unsubscribe();
      void source.close();
    }
    sources.clear();
    followers.clear();
  };
}

function offsetsOf(log: InMemoryLog, groupIds: readonly string[]): OffsetsSnapshot {
  const ends: [string, number][] = [];
  const committed: [string, number][] = [];
  for (const topic of log.topicNames()) {
    const partitions = log.partitionCount(topic);
    for (let partition = 0; partition < partitions; partition++) {
      ends.push([`${topic}/${partition}`, log.endOffset(topic, partition)]);
      for (const groupId of groupIds) {
        const offset = log.committed(groupId, topic, partition);
        if (offset !== undefined) committed.push([`${groupId}/${topic}/${partition}`, offset]);
      }
    }
  }
  return { ends, committed };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The pipeline thread's end: the in-process log's ports, answered by the thread that owns the log
 * (`serveLog`). End and committed offsets are the owner's last report (at most 50 ms old, and
 * current after this thread's own commits), which is what a Kafka client's lag is too.
 */
export class PortLog implements LogReader, FollowableLog {
  private nextId = 0;
  private readonly requests = new Map<
    number,
    { resolve(value: unknown): void; reject(error: Error): void }
  >();
  private readonly sources = new Map<number, (message: FromOwner) => void>();
  private readonly followers = new Map<number, PortFollower>();
  private ends = new Map<string, number>();
  private committedOffsets = new Map<string, number>();

  constructor(private readonly port: LogPort) {
    port.on('message', (raw) => this.receive(raw as FromOwner));
  }

  private receive(message: FromOwner): void {
    switch (message.type) {
      case 'batch':
      case 'source-end':
        this.sources.get(message.sourceId)?.(message);
        return;
      case 'reply': {
        const request = this.requests.get(message.requestId);
        this.requests.delete(message.requestId);
        if (message.error === null) request?.resolve(message.value);
        else request?.reject(new EddyError(`in-process log: ${message.error}`));
        return;
      }
      case 'followed':
        this.followers.get(message.followerId)?.receive(message.records, message.behind, message.position);
        return;
      case 'offsets':
        this.remember(message.offsets);
        return;
    }
  }

  private remember(offsets: OffsetsSnapshot): void {
    this.ends = new Map(offsets.ends);
    this.committedOffsets = new Map(offsets.committed);
  }

  private request<T>(build: (requestId: number) => ToOwner): Promise<T> {
    const requestId = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.requests.set(requestId, { resolve: resolve as (value: unknown) => void, reject });
      this.port.postMessage(build(requestId));
    });
  }

  source(options: InMemorySourceOptions): EventSource {
    const sourceId = this.nextId++;
    const port = this.port;
    return {
      batches: () =>
        new Observable<SourceBatch>((subscriber) => {
          this.sources.set(sourceId, (message) => {
            if (message.type === 'source-end') {
              this.sources.delete(sourceId);
              if (message.error === null) subscriber.complete();
              else subscriber.error(new EddyError(`in-process log source: ${message.error}`));
              return;
            }
            if (message.type !== 'batch') return;
            let released = false;
            const { batchId, topic, partition, records, lag } = message;
            subscriber.next({
              topic,
              partition,
              records,
              lag,
              release: () => {
                if (released) return;
                released = true;
                port.postMessage({ type: 'release', batchId } satisfies ToOwner);
              },
            });
          });
          port.postMessage({ type: 'source', sourceId, options } satisfies ToOwner);
          return () => this.sources.delete(sourceId);
        }),
      close: () => this.request<void>((requestId) => ({ type: 'close-source', sourceId, requestId })),
    };
  }

  sink(): EventSink {
    let closed = false;
    return {
      commit: async (unit) => {
        if (closed) throw new EddyError('commit on a closed sink');
        this.remember(
          await this.request<OffsetsSnapshot>((requestId) => ({ type: 'commit', requestId, unit })),
        );
      },
      close: async () => {
        closed = true;
      },
    };
  }

  async *readRange(
    topic: string,
    partition: number,
    fromOffset: number,
  ): AsyncGenerator<readonly SourceRecord[]> {
    const chunks = await this.request<(readonly SourceRecord[])[]>((requestId) => ({
      type: 'read-range',
      requestId,
      topic,
      partition,
      fromOffset,
    }));
    yield* chunks;
  }

  partitionsOf(topic: string): Promise<number> {
    return this.request<number>((requestId) => ({ type: 'partitions-of', requestId, topic }));
  }

  follow(topic: string, partition: number, fromOffset: number): LogFollower {
    const followerId = this.nextId++;
    const follower = new PortFollower(fromOffset, () => {
      this.followers.delete(followerId);
      this.port.postMessage({ type: 'close-follower', followerId } satisfies ToOwner);
    });
    this.followers.set(followerId, follower);
    this.port.postMessage({ type: 'follow', followerId, topic, partition, fromOffset } satisfies ToOwner);
    return follower;
  }

  /** The end offset the owner last reported (0 before its first report). */
  endOffset(topic: string, partition: number): number {
    return this.ends.get(`${topic}/${partition}`) ?? 0;
  }

  committed(groupId: string, topic: string, partition: number): number | undefined {
    return this.committedOffsets.get(`${groupId}/${topic}/${partition}`);
  }
}

/** Records pushed by the owner, handed out by `poll` in their order. */
class PortFollower implements LogFollower {
  private buffered: SourceRecord[] = [];
  private head = 0;
  private ownerBehind = 0;
  private ownerPosition: number;
  private handedOutTo: number;

  constructor(
    fromOffset: number,
    private readonly onClose: () => void,
  ) {
    this.ownerPosition = fromOffset;
    this.handedOutTo = fromOffset;
  }

  receive(records: readonly SourceRecord[], behind: number, position: number): void {
    if (this.head > 0 && this.head === this.buffered.length) {
      this.buffered = [];
      this.head = 0;
    }
    for (const record of records) this.buffered.push(record);
    this.ownerBehind = behind;
    this.ownerPosition = position;
  }

  poll(max: number): readonly SourceRecord[] {
    const available = this.buffered.length - this.head;
    if (available === 0) {
      this.handedOutTo = this.ownerPosition;
      return [];
    }
    const records = this.buffered.slice(this.head, this.head + Math.min(max, available));
    this.head += records.length;
    this.handedOutTo = records[records.length - 1]!.offset + 1;
    if (this.head === this.buffered.length) {
      this.buffered = [];
      this.head = 0;
      this.handedOutTo = this.ownerPosition;
    }
    return records;
  }

  behind(): number {
    return this.buffered.length - this.head + this.ownerBehind;
  }

  position(): number {
    return this.handedOutTo;
  }

  async close(): Promise<void> {
    this.onClose();
  }
}
