import type { Logger } from '../observe/logger.js';
import type { RunSummary } from '../observe/run-stats.js';

/**
 * What the progress fields mean, logged once at start: a newcomer reading `freshnessP99` should not
 * have to open the source.
 */
export const PROGRESS_LEGEND = {
  eventsPerSec: 'click events processed per second (recent)',
  lists: 'recommendation lists emitted (a burst of clicks by one user within --coalesce yields one)',
  hitRate:
    'live: share of positive clicks on an item of the list last emitted to that user; that list is older than the previous click when clicks coalesce, so it reads lower than bench:quality HR@10, which ranks anew before every click',
  ndcg: 'live NDCG@10 of the same lists',
  latency: 'per list: from its batch being fetched to the list being committed (p50/p95/p99)',
  freshnessP99: 'per list: from its click entering the log to the list being committed, queueing included',
  coverage: 'share of the catalog recommended recently',
};

export function logSummary(
  logger: Logger,
  s: RunSummary,
  phase: 'progress' | 'finished',
  totalEvents: number | null = null,
): void {
  const ms = (v: number): string => (Number.isNaN(v) ? '–' : `${v.toFixed(v < 10 ? 2 : 0)}ms`);
  logger.info(
    phase === 'finished'
      ? `finished: ${s.clicks.toLocaleString('en')} events in ${s.elapsedSeconds.toFixed(1)}s`
      : progressMessage(s, totalEvents),
    {
      eventsPerSec: Math.round(phase === 'finished' ? s.eventsPerSecond : s.recentEventsPerSecond),
      lists: s.lists,
      hitRate: round(s.quality.hitRate),
      recentHitRate: round(s.quality.recentHitRate),
      ndcg: round(s.quality.ndcg),
      latency: `p50 ${ms(s.latencyMs.p50)} p95 ${ms(s.latencyMs.p95)} p99 ${ms(s.latencyMs.p99)}`,
      freshnessP99: ms(s.freshnessMs.p99),
      coverage: round(s.coverage),
      users: s.users,
      items: s.catalog,
      deadLetters: s.deadLetters,
    },
  );
}

/** `12,000 / 100,000 events (12%), ETA 40s` when the stream's length is known. */
function progressMessage(s: RunSummary, totalEvents: number | null): string {
  const done = s.clicks.toLocaleString('en');
  if (totalEvents === null || totalEvents <= 0) return `${done} events`;
  const share = Math.min(100, Math.floor((100 * s.clicks) / totalEvents));
  const rate = s.recentEventsPerSecond;
  const eta = rate > 0 ? `, ETA ${formatSeconds(Math.max(0, totalEvents - s.clicks) / rate)}` : '';
  return `${done} / ${totalEvents.toLocaleString('en')} events (${share}%)${eta}`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m ${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
