/**
 * The pipeline over a sink that orders commits (as the Kafka sink does): the next batch is
 * processed while the previous unit's commit is still in flight, every batch is released only once
 * its own unit committed, and a failed commit stops the pipeline with nothing after it committed.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InMemoryLog } from '../../streams/adapters/memory/in-memory-log.js';
import { EmbeddedEddy } from '../../streams/app/embedded.js';
import type { CommitUnit, EventSink, OutgoingRecord } from '../../streams/ports/event-log.js';
import { syntheticStream } from '../../streams/sources/synthetic.js';
import { fixedClock } from '../../streams/util/clock.js';
import { emittedLists, TEST_NOW, testOptions } from '../support/embedded-run.js';

/** An in-process log whose sink takes a few milliseconds per commit, in call order. */
class SlowCommitLog extends InMemoryLog {
  pending = 0;
  mostPending = 0;
  /** Units the pipeline handed over, and commits the sink went on to attempt. */
  handedOver = 0;
  commits = 0;

  constructor(private readonly failAt = Number.POSITIVE_INFINITY) {
    super({ clock: fixedClock(TEST_NOW) });
  }

  override sink(): EventSink {
    const inner = super.sink();
    let previous: Promise<void> = Promise.resolve();
    return {
      ordersCommits: true,
      commit: (unit: CommitUnit) => {
        this.handedOver++;
        this.pending++;
        this.mostPending = Math.max(this.mostPending, this.pending);
        // Chained: a unit after a failed one is rejected without being committed (the contract).
        const next = previous.then(async () => {
          await sleep(2);
          if (++this.commits === this.failAt) throw new Error(`commit ${this.commits} refused`);
          await inner.commit(unit);
        });
        previous = next;
        return next.finally(() => this.pending--);
      },
      close: () => inner.close(),
    };
  }
}

const CLICKS = 1_500;
const BATCH_SIZE = 25;
const stream = () => syntheticStream({ seed: 11, users: 120, items: 300, categories: 6, events: CLICKS });

/** An embedded Eddy over `log` with the whole stream already in it (batch boundaries fixed). */
function prefed(log: InMemoryLog): EmbeddedEddy<InMemoryLog> {
  const eddy = new EmbeddedEddy({ ...testOptions({ partitions: 3, batchSize: BATCH_SIZE }), log });
  const records: OutgoingRecord[] = [];
  for (const e of stream()) records.push(eddy.encode(e));
  eddy.log.produce(records);
  return eddy;
}

async function run(log: InMemoryLog): Promise<EmbeddedEddy<InMemoryLog>> {
  const eddy = prefed(log);
  await eddy.runToCompletion([]);
  return eddy;
}

test('with a sink that orders commits, batches are processed during commits and every input is committed once', async () => {
  const plain = await run(new InMemoryLog({ clock: fixedClock(TEST_NOW) }));
  const slowLog = new SlowCommitLog();
  const slow = await run(slowLog);
  assert.ok(slowLog.mostPending > 1, `at most ${slowLog.mostPending} commit(s) in flight: no overlap`);
  for (let partition = 0; partition < 3; partition++) {
    assert.equal(
      slow.log.committed(slow.groupId, slow.topics.clicks, partition),
      slow.log.endOffset(slow.topics.clicks, partition),
      `partition ${partition} committed to its end`,
    );
  }
  // The same batches (prefed input), so the same lists answer the same triggering clicks.
  const ids = async (eddy: EmbeddedEddy<InMemoryLog>) =>
    (await emittedLists(eddy)).map((l) => l.listId).sort();
  assert.deepEqual(await ids(slow), await ids(plain));
});

test('a failed commit fails the run instead of hanging, and the units queued behind it stay uncommitted', async () => {
  const failAt = 4;
  const log = new SlowCommitLog(failAt);
  const eddy = prefed(log);
  await assert.rejects(eddy.runToCompletion([]), /commit 4 refused/);
  let committed = 0;
  for (let partition = 0; partition < 3; partition++) {
    committed += eddy.log.committed(eddy.groupId, eddy.topics.clicks, partition) ?? 0;
  }
  assert.ok(log.mostPending > 1, 'units were queued behind the refused one');
  // At most the clicks of the units committed before the refused one.
  assert.ok(committed <= (failAt - 1) * BATCH_SIZE, `${committed} clicks committed`);
  // The pipeline stopped at the failure: it handed over far fewer units than the input needs
  // (a unit holds at most BATCH_SIZE clicks); one that went on would hand over every one.
  assert.ok(
    log.handedOver < CLICKS / BATCH_SIZE,
    `${log.handedOver} units handed over after a refused commit`,
  );
});
