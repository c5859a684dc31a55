/** Topic names, configurable as a unit so several Eddy deployments can share one cluster. */
export interface TopicNames {
  readonly clicks: string;
  readonly items: string;
  readonly recommendations: string;
  readonly deadLetters: string;
  readonly userChangelog: string;
  readonly itemChangelog: string;
  /** The learned ranking weights (one record per consumer group, compacted). */
  readonly rankingChangelog: string;
}

export function topicNames(prefix = 'eddy'): TopicNames {
  return {
    clicks: `${prefix}.clicks`,
    items: `${prefix}.items`,
    recommendations: `${prefix}.recommendations`,
    deadLetters: `${prefix}.dead-letters`,
    userChangelog: `${prefix}.user-state-changelog`,
    itemChangelog: `${prefix}.item-state-changelog`,
    rankingChangelog: `${prefix}.ranking-state-changelog`,
  };
}

/** Header names on dead-letter records: why the record was rejected and where it came from. */
export const DEAD_LETTER_HEADERS = {
  reason: 'eddy.dlq.reason',
  detail: 'eddy.dlq.detail',
  topic: 'eddy.dlq.topic',
  partition: 'eddy.dlq.partition',
  offset: 'eddy.dlq.offset',
} as const;
