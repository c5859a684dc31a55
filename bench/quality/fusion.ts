import type { ClickEvent, ItemEvent } from '../../streams/model/events.js';
import type { StreamingMethod } from './harness.js';

/** One method of a fusion and how much its ranks count. */
export interface FusionMember {
  readonly method: StreamingMethod;
  readonly weight: number;
}

/** Reciprocal-rank fusion's damping: rank r adds weight / (RANK_OFFSET + r). */
export const RANK_OFFSET = 10;
/** How deep each member's list is read. */
export const FUSION_DEPTH = 100;

/**
 * A diagnostic, not a recommender to ship: serves the weighted reciprocal-rank fusion of its
 * members' lists (Cormack et al. 2009), every member learning from every click. How much a fusion
 * beats its best member bounds what combining those methods' information could add, which is how
 * the benchmark asks whether a baseline knows something Eddy does not.
 */
export class FusedMethod implements StreamingMethod {
  readonly name: string;
  private readonly scores = new Map<string, number>();

  constructor(
    private readonly members: readonly FusionMember[],
    name?: string,
  ) {
    if (members.length < 2) throw new RangeError(`a fusion needs at least 2 methods, got ${members.length}`);
    for (const m of members) {
      if (!(Number.isFinite(m.weight) && m.weight > 0)) {
        throw new RangeError(`${m.method.name}: a fusion weight must be a number > 0, got ${m.weight}`);
      }
    }
    this.name = name ?? fusionName(members.map((m) => ({ name: m.method.name, weight: m.weight })));
  }

  async start(catalog: readonly ItemEvent[]): Promise<void> {
    for (const m of this.members) await m.method.start?.(catalog);
  }

  async catalog(event: ItemEvent): Promise<void> {
    for (const m of this.members) await m.method.catalog?.(event);
  }

  async serve(userId: string, k: number): Promise<readonly string[]> {
    const scores = this.scores;
    scores.clear();
    for (const { method, weight } of this.members) {
      const list = await method.serve(userId, Math.max(k, FUSION_DEPTH));
      list.forEach((itemId, r) => {
        scores.set(itemId, (scores.get(itemId) ?? 0) + weight / (RANK_OFFSET + r + 1));
      });
    }
    // Map order is first appearance, and the sort is stable: ties go to the earlier member's order.
    return [...scores.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([itemId]) => itemId);
  }

  async learn(event: ClickEvent): Promise<void> {
    for (const m of this.members) await m.method.learn(event);
  }

  async close(): Promise<void> {
    for (const m of this.members) await m.method.close?.();
  }
}

/** `fused(eddy+isgd*0.5)`: the members as `--fuse` spells them. */
export function fusionName(members: readonly { readonly name: string; readonly weight: number }[]): string {
  return `fused(${members.map((m) => (m.weight === 1 ? m.name : `${m.name}*${m.weight}`)).join('+')})`;
}

/** Parses `eddy+isgd*0.5` into member names and weights (1 when not given). */
export function parseFusionSpec(spec: string): { readonly name: string; readonly weight: number }[] {
  const members = spec.split('+').map((part) => {
    const [name = '', weightText] = part.trim().split('*');
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (name === '' || !(Number.isFinite(weight) && weight > 0)) {
      throw new RangeError(`--fuse ${spec}: expected method[*weight]+method[*weight], weights > 0`);
    }
    return { name, weight };
  });
  if (members.length < 2) throw new RangeError(`--fuse ${spec}: a fusion needs at least 2 methods`);
  return members;
}
