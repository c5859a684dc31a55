/**
 * Interactive queries (Kafka Streams' term): a downstream service asks any instance for a user's
 * current list or preference summary instead of consuming the recommendations topic. The instance
 * that owns the user's clicks partition answers from its state; any other answers with the owner's
 * address, so a client needs to know one instance only.
 *
 * Transport-free: `UserQueries` returns answers; `http-server.ts` maps them to HTTP (see
 * docs/openapi.json).
 */

import type { EddyModel } from '../model/eddy-model.js';
import type { CandidateSource } from '../model/events.js';
import type { Recommender } from '../recommend/recommender.js';
import { partitionForKey } from '../util/murmur2.js';

/** Where a user's state lives right now. */
export type Ownership =
  | { readonly kind: 'local' }
  /** Another instance owns the user's partition; `endpoint` is its advertised base URL. */
  | { readonly kind: 'remote'; readonly endpoint: string }
  /** Nobody known (a rebalance in progress, or an owner that advertises no endpoint). */
  | { readonly kind: 'unknown' };

/** Who owns which clicks partition: the in-process instance owns all; on Kafka, the group decides. */
export interface OwnershipResolver {
  /** Partitions of the clicks topic (users map to them as Kafka's default partitioner does). */
  readonly partitions: number;
  ownerOf(partition: number): Ownership | Promise<Ownership>;
}

export const EVERYTHING_LOCAL: (partitions: number) => OwnershipResolver = (partitions) => ({
  partitions,
  ownerOf: () => ({ kind: 'local' }),
});

export interface ListedItem {
  readonly itemId: string;
  readonly title: string;
  readonly rank: number;
  readonly score: number;
  readonly source: CandidateSource;
}

export interface RecommendationsBody {
  readonly userId: string;
  readonly generatedAt: number;
  readonly modelVersion: string;
  readonly items: readonly ListedItem[];
}

export interface UserStateBody {
  readonly userId: string;
  readonly events: number;
  readonly positives: number;
  readonly negatives: number;
  readonly lastEventTime: number;
  readonly recent: readonly { itemId: string; title: string; type: string; time: number }[];
  readonly topCategories: readonly { category: string; affinity: number }[];
  readonly lastList: { readonly itemIds: readonly string[]; readonly generatedAt: number } | null;
}

export type QueryAnswer<T> =
  | { readonly status: 'ok'; readonly body: T }
  /** This instance owns the partition, but has no state for the user (never seen, or forgotten). */
  | { readonly status: 'not_found'; readonly partition: number }
  | { readonly status: 'elsewhere'; readonly endpoint: string; readonly partition: number }
  /** Not ready (restoring, or the owner is unknown during a rebalance): ask again shortly. */
  | { readonly status: 'unavailable'; readonly reason: string };

export interface UserQueriesOptions {
  readonly model: EddyModel;
  readonly recommender: Recommender;
  readonly ownership: OwnershipResolver;
  readonly ready: () => boolean;
  readonly modelVersion: string;
  readonly clock: () => number;
}

/** Most items a query may ask for: the recommender's cost grows with it. */
export const MAX_QUERY_LIMIT = 100;

export class UserQueries {
  constructor(private readonly options: UserQueriesOptions) {}

  partitionOf(userId: string): number {
    return partitionForKey(userId, this.options.ownership.partitions);
  }

  /**
   * The list Eddy would emit for the user now, from its current state (seen and unavailable items
   * excluded, diversified), computed on request without learning from it.
   */
  async recommendations(userId: string, limit?: number): Promise<QueryAnswer<RecommendationsBody>> {
    const located = await this.locate(userId);
    if (located.status !== 'ok') return located;
    const user = located.body;
    const [items = []] = await this.options.recommender.recommend([user], limit, { learn: false });
    return {
      status: 'ok',
      body: {
        userId,
        generatedAt: this.options.clock(),
        modelVersion: this.options.modelVersion,
        items: items.map((item) => ({ ...item, title: this.title(item.itemId) })),
      },
    };
  }

  /** A summary of the user's preference state. */
  async state(userId: string): Promise<QueryAnswer<UserStateBody>> {
    const located = await this.locate(userId);
    if (located.status !== 'ok') return located;
    const user = located.body;
    const topCategories = [...user.categoryAffinity]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 5)
      .map(([category, affinity]) => ({ category, affinity }));
    return {
      status: 'ok',
      body: {
        userId,
        events: user.events,
        positives: user.positives,
        negatives: user.negatives,
        lastEventTime: user.lastEventTime,
        recent: user.recent.map((r) => ({
          itemId: r.itemId,
          title: this.title(r.itemId),
          type: r.type,
          time: r.time,
        })),
        topCategories,
        lastList:
          user.lastList.length > 0 ? { itemIds: [...user.lastList], generatedAt: user.lastListAt } : null,
      },
    };
  }

  private async locate(userId: string) {
    if (!this.options.ready()) {
      return { status: 'unavailable', reason: 'not ready: state is being restored' } as const;
    }
    const partition = this.partitionOf(userId);
    const owner = await this.options.ownership.ownerOf(partition);
    if (owner.kind === 'remote') return { status: 'elsewhere', endpoint: owner.endpoint, partition } as const;
    if (owner.kind === 'unknown') {
      return {
        status: 'unavailable',
        reason: `no instance is known to own partition ${partition} (rebalancing?)`,
      } as const;
    }
    const user = this.options.model.users.get(userId);
    if (user === undefined) return { status: 'not_found', partition } as const;
    return { status: 'ok', body: user } as const;
  }

  private title(itemId: string): string {
    return this.options.model.items.get(itemId)?.title ?? '';
  }
}
