/**
 * Which instance serves which user, for interactive queries, the way Kafka Streams does it with
 * `application.server`: every member advertises its HTTP endpoint in the user data of its group
 * subscription, and anyone can read the group's members (subscription + assignment) to map a
 * clicks partition to the endpoint of the member that owns it. No protocol of Eddy's own: the
 * group coordinator already holds and hands out exactly this.
 */

import {
  type Admin,
  AssignerProtocol,
  type Kafka,
  type PartitionAssigner,
  PartitionAssigners,
} from 'kafkajs';
import type { Logger } from '../../observe/logger.js';
import type { Ownership, OwnershipResolver } from '../../serve/user-queries.js';
import { describeError } from './kafka-client.js';

interface Advertised {
  readonly endpoint: string;
}

/**
 * kafkajs' round-robin assignment, with `endpoint()` (read at each join, so it may be known only
 * after the HTTP server has bound its port) in the subscription's user data.
 */
export function advertisingAssigner(endpoint: () => string | null): PartitionAssigner {
  return (config) => {
    const roundRobin = PartitionAssigners.roundRobin(config);
    return {
      name: roundRobin.name,
      version: roundRobin.version,
      assign: (group) => roundRobin.assign(group),
      protocol: ({ topics }) => {
        const advertised = endpoint();
        const userData =
          advertised === null
            ? Buffer.alloc(0)
            : Buffer.from(JSON.stringify({ endpoint: advertised } satisfies Advertised));
        return {
          name: roundRobin.name,
          metadata: AssignerProtocol.MemberMetadata.encode({ version: roundRobin.version, topics, userData }),
        };
      },
    };
  };
}

export interface GroupEndpointsOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topic: string;
  readonly partitions: number;
  /** This instance's own partitions of `topic`: answered locally without asking the group. */
  readonly owned: () => ReadonlySet<number>;
  /** How long a read of the group's members is reused (default 2 s). */
  readonly maxAgeMs?: number;
  readonly logger?: Logger;
}

/** Partition → advertised endpoint of its owner, read from the group coordinator and cached briefly. */
export class GroupEndpoints implements OwnershipResolver {
  /** Partitions of the clicks topic: the configured count until start-up has read the real one. */
  partitions: number;
  private admin: Admin | null = null;
  private owners = new Map<number, string>();
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | null = null;

  constructor(private readonly options: GroupEndpointsOptions) {
    this.partitions = options.partitions;
  }

  async ownerOf(partition: number): Promise<Ownership> {
    if (this.options.owned().has(partition)) return { kind: 'local' };
    if (Date.now() - this.readAt > (this.options.maxAgeMs ?? 2_000)) await this.refresh();
    const endpoint = this.owners.get(partition);
    return endpoint === undefined ? { kind: 'unknown' } : { kind: 'remote', endpoint };
  }

  /** Forgets the cached owners (call on every rebalance of this instance). */
  invalidate(): void {
    this.readAt = Number.NEGATIVE_INFINITY;
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    await admin?.disconnect();
  }

  private refresh(): Promise<void> {
    this.reading ??= this.read().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async read(): Promise<void> {
    try {
      if (this.admin === null) {
        const admin = this.options.kafka.admin();
        await admin.connect();
        this.admin = admin;
      }
      const { groups } = await this.admin.describeGroups([this.options.groupId]);
      const owners = new Map<number, string>();
      for (const member of groups[0]?.members ?? []) {
        const endpoint = advertisedEndpoint(member.memberMetadata);
        if (endpoint === null || member.memberAssignment.length === 0) continue;
        const assignment = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
        for (const partition of assignment?.assignment[this.options.topic] ?? [])
          owners.set(partition, endpoint);
      }
      this.owners = owners;
      this.readAt = Date.now();
    } catch (error) {
      // Unknown owners make queries answer 503 (ask again), which is right while Kafka is unreachable.
      this.options.logger?.warn('cannot read the consumer group for interactive queries', {
        error: describeError(error),
      });
      this.owners = new Map();
    }
  }
}

function advertisedEndpoint(metadata: Buffer): string | null {
  try {
    const decoded = AssignerProtocol.MemberMetadata.decode(metadata);
    if (!decoded || decoded.userData.length === 0) return null;
    const parsed = JSON.parse(decoded.userData.toString('utf8')) as Partial<Advertised>;
    return typeof parsed.endpoint === 'string' ? parsed.endpoint : null;
  } catch {
    return null;
  }
}
