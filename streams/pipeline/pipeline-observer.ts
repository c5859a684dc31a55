import type { DeadLetterReason } from '../errors.js';
import type { SourceBatch } from '../ports/event-log.js';
import type { RestoreReport } from './restore.js';
import type { CommittedBatch } from './stages.js';

export const PIPELINE_STAGES = ['decode', 'learn', 'refresh', 'recommend', 'commit'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/**
 * What the pipeline reports as it runs. Metrics, the terminal summary and tests each listen
 * through this one interface, so the stages stay free of presentation.
 */
export interface PipelineObserver {
  /** A positive interaction scored against the user's last list: rank 1..K, or 0 for a miss. */
  liveEvaluation(rank: number): void;
  deadLetter(reason: DeadLetterReason): void;
  stage(name: PipelineStage, seconds: number): void;
  vectorWrite(users: number, items: number): void;
  committed(batch: CommittedBatch): void;
  /** A batch left the source, before it queues for the stages (in flight until `committed`). */
  fetched?(batch: SourceBatch): void;
  /** Changelog records applied during a restore, reported as it goes (a count per chunk). */
  restoring?(records: number): void;
  /** The changelog restore finished (before processing starts). */
  restored?(report: RestoreReport, seconds: number): void;
  /**
   * A record of the item-updates topic was applied to this instance's replica of the item model:
   * written by `source`, its newest event time `lastEventTime`; `behind` records remain;
   * `appendedAt` is when the record was appended (its log timestamp), during following only.
   */
  itemModelApplied?(
    source: string,
    lastEventTime: number,
    increments: number,
    behind: number,
    appendedAt?: number,
  ): void;
}

export function combineObservers(...observers: PipelineObserver[]): PipelineObserver {
  return {
    liveEvaluation: (rank) => {
      for (const o of observers) o.liveEvaluation(rank);
    },
    deadLetter: (reason) => {
      for (const o of observers) o.deadLetter(reason);
    },
    stage: (name, seconds) => {
      for (const o of observers) o.stage(name, seconds);
    },
    vectorWrite: (users, items) => {
      for (const o of observers) o.vectorWrite(users, items);
    },
    committed: (batch) => {
      for (const o of observers) o.committed(batch);
    },
    fetched: (batch) => {
      for (const o of observers) o.fetched?.(batch);
    },
    restoring: (records) => {
      for (const o of observers) o.restoring?.(records);
    },
    restored: (report, seconds) => {
      for (const o of observers) o.restored?.(report, seconds);
    },
    itemModelApplied: (source, lastEventTime, increments, behind, appendedAt) => {
      for (const o of observers) o.itemModelApplied?.(source, lastEventTime, increments, behind, appendedAt);
    },
  };
}

export const nullObserver: PipelineObserver = {
  liveEvaluation: () => {},
  deadLetter: () => {},
  stage: () => {},
  vectorWrite: () => {},
  committed: () => {},
};
