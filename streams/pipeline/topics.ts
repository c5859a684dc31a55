/** Topic names, configurable as a unit so several Eddy deployments can share one cluster. */
export interface TopicNames {
  readonly clicks: string;
  readonly items: string;
  readonly recommendations: string;
  readonly deadLetters: string;
  readonly userChangelog: string;
  readonly itemChangelog: string;
  /** The session-kNN index, checkpointed with the item model (compacted). */
  readonly sessionChangelog: string;
  /** The learned ranking weights (one record per consumer group, compacted). */
  readonly rankingChangelog: string;
  /**
   * What every instance's batches taught the item model (one partition, written in the batches'
   * transactions); every instance applies all of it, so the group shares one item model.
   */
  readonly itemUpdates: string;
}

/** The topics a user may name (existing input and output topics); the changelogs are Eddy's own. */
export type UserTopics = Pick<TopicNames, 'clicks' | 'items' | 'recommendations' | 'deadLetters'>;

export function topicNames(prefix = 'eddy', named: Partial<UserTopics> = {}): TopicNames {
  return {
    clicks: named.clicks ?? `${prefix}.clicks`,
    items: named.items ?? `${prefix}.items`,
    recommendations: named.recommendations ?? `${prefix}.recommendations`,
    deadLetters: named.deadLetters ?? `${prefix}.dead-letters`,
    userChangelog: `${prefix}.user-state-changelog`,
    itemChangelog: `${prefix}.item-state-changelog`,
    sessionChangelog: `${prefix}.session-index-changelog`,
    rankingChangelog: `${prefix}.ranking-state-changelog`,
    itemUpdates: `${prefix}.item-updates`,
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
