/**
 * Eddy ids are arbitrary strings; Qdrant point ids must be unsigned integers or UUIDs. Each Eddy id
 * maps to the RFC 4122 version-5 UUID of its UTF-8 bytes in a fixed Eddy namespace: deterministic
 * (every Eddy process, and any other tool that knows the namespace, computes the same point id, so
 * upserts replace and deletes find their point), and collision-free in practice (SHA-1 truncated to
 * 122 bits). The original id travels in the payload, because a UUID cannot be turned back.
 */

import { createHash } from 'node:crypto';
import { EddyError } from '../../errors.js';

/** Namespace of Eddy's point ids (a random v4 UUID, fixed forever: changing it orphans every stored point). */
export const EDDY_POINT_NAMESPACE = '3f4b8a52-7c1e-4d2a-9b6f-0e5d71c2a8e4';

const HEX_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A lone surrogate: UTF-8 would encode it as U+FFFD, so two different ids could share a point. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function namespaceBytes(namespace: string): Buffer {
  if (!HEX_UUID.test(namespace))
    throw new EddyError(`namespace must be a UUID, got ${JSON.stringify(namespace)}`);
  return Buffer.from(namespace.replace(/-/g, ''), 'hex');
}

/** Whether an id can be stored: well-formed Unicode (what UTF-8, and so Qdrant's JSON, can carry). */
export function isStorableId(id: string): boolean {
  return !LONE_SURROGATE.test(id);
}

/** The version-5 UUID of `name` in `namespace` (RFC 4122 §4.3), lower-case and hyphenated as Qdrant returns it. */
export function uuidV5(name: string, namespace: string = EDDY_POINT_NAMESPACE): string {
  return v5(namespaceBytes(namespace), name);
}

function v5(namespace: Buffer, name: string): string {
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Eddy id → point id, with a bounded cache: a query batch excludes every user's seen items (64
 * users × 2 vectors × ~100 ids), and hashing costs ~1.2 µs an id where a cache hit costs ~0.05 µs.
 * When full, the oldest entries go first (Map keeps insertion order), so memory stays bounded.
 */
export class PointIds {
  private readonly cache = new Map<string, string>();
  private readonly namespace: Buffer;

  constructor(
    private readonly capacity = 100_000,
    namespace: string = EDDY_POINT_NAMESPACE,
  ) {
    this.namespace = namespaceBytes(namespace);
  }

  get size(): number {
    return this.cache.size;
  }

  of(id: string): string {
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached;
    const uuid = v5(this.namespace, id);
    if (this.capacity > 0) {
      if (this.cache.size >= this.capacity) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(id, uuid);
    }
    return uuid;
  }
}
