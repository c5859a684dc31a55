import type { DeadLetterReason } from '../errors.js';
import type { CommittedBatch } from './stages.js';

/**
 * What the pipeline reports as it runs. Metrics, the terminal summary and tests each listen
 * through this one interface, so the stages stay free of presentation.
 */
export interface PipelineObserver {
  /** A positive interaction scored against the user's last list: rank 1..K, or 0 for a miss. */
  liveEvaluation(rank: number): void;
  deadLetter(reason: DeadLetterReason): void;
  stage(name: 'decode' | 'learn' | 'refresh' | 'recommend' | 'commit', seconds: number): void;
  vectorWrite(users: number, items: number): void;
  committed(batch: CommittedBatch): void;
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
  };
}

export const nullObserver: PipelineObserver = {
  liveEvaluation: () => {},
  deadLetter: () => {},
  stage: () => {},
  vectorWrite: () => {},
  committed: () => {},
};
