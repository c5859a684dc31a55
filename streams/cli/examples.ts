import type { EmbeddedEddy, EmbeddedLog } from '../app/embedded.js';
import type { RecommendedItem } from '../model/events.js';
import type { Logger } from '../observe/logger.js';

/**
 * Fresh lists, from the final state, for the most active users, with titles: what Eddy would serve
 * now. Readable text on stdout for a terminal; with JSON logs, one log line per list instead, so
 * the output stays machine-readable.
 */
export async function printExamples<L extends EmbeddedLog>(
  eddy: EmbeddedEddy<L>,
  count: number,
  logger: Logger,
  json: boolean,
  writeText: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  if (count === 0) return;
  const users = [...eddy.users.entries()]
    .map(([, u]) => u)
    .sort((a, b) => b.events - a.events || (a.userId < b.userId ? -1 : 1))
    .slice(0, count);
  const lists = await eddy.pipeline.context.recommender.recommend(users);
  const title = (id: string): string => eddy.model.items.get(id)?.title || id;
  if (json) {
    users.forEach((user, i) => {
      logger.info('example list', {
        userId: user.userId,
        events: user.events,
        recent: user.recent
          .slice(-3)
          .map((r) => ({ itemId: r.itemId, title: title(r.itemId), type: r.type })),
        items: (lists[i] as RecommendedItem[]).map((item) => ({ ...item, title: title(item.itemId) })),
      });
    });
    return;
  }
  const lines: string[] = [
    '',
    'Example lists (most active users, from the final state).',
    'Each item: [the signal that proposed it, its relevance score]. The order is chosen by',
    'diversification (MMR), so a lower score can rank above a higher one.',
  ];
  users.forEach((user, i) => {
    const recent = user.recent
      .slice(-3)
      .map((r) => `${title(r.itemId)} (${r.type})`)
      .join(', ');
    lines.push(`  ${user.userId} — ${user.events} events; recently: ${recent}`);
    for (const item of lists[i] as RecommendedItem[]) {
      lines.push(
        `    ${String(item.rank).padStart(2)}. ${title(item.itemId)}  [${item.source}, ${item.score.toFixed(3)}]`,
      );
    }
  });
  writeText(`${lines.join('\n')}\n`);
}
