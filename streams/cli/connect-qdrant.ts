import { createQdrantVectorStore } from '../adapters/qdrant/qdrant-settings.js';
import type { QdrantVectorStore } from '../adapters/qdrant/qdrant-vector-store.js';
import type { Logger } from '../observe/logger.js';
import type { EddyMetrics } from '../observe/metrics.js';
import type { EddySettings } from './eddy-settings.js';

/**
 * The Qdrant store when --qdrant-url is set (null: the in-process index), checked at start-up so an
 * unreachable server or a mismatched collection fails fast with the reason.
 */
export async function connectQdrant(
  settings: EddySettings,
  metrics: EddyMetrics,
  logger: Logger,
): Promise<QdrantVectorStore | null | 'failed'> {
  if (settings.qdrantUrl === null) return null;
  const store = createQdrantVectorStore(settings, metrics, logger);
  try {
    const version = await store.serverVersion();
    logger.info('connected to Qdrant', { url: settings.qdrantUrl, version });
    return store;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    logger.error('cannot use Qdrant', { url: settings.qdrantUrl, reason });
    await store.close();
    return 'failed';
  }
}
