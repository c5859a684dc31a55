/**
 * Kafka's default partitioner hash (Java `Utils.murmur2`, `Utils.toPositive`), bit for bit, so the
 * in-process log puts every key on the same partition a Kafka producer would: a topic replayed from
 * one into the other keeps its per-key ordering and its partition-local state.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** MurmurHash2 of `data` as a signed 32-bit integer, exactly as Kafka's `Utils.murmur2`. */
export function murmur2(data: Uint8Array, length: number = data.length): number {
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // Java's switch falls through from 3 to 1; written out because the compiler forbids fallthrough.
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit rather than taking `Math.abs`, which overflows on MIN_VALUE. */
export function toPositive(h: number): number {
  return h & 0x7fffffff;
}

const encoder = new TextEncoder();
// Keys are hashed on every append; encoding into a reused buffer keeps that allocation-free.
let scratch = new Uint8Array(256);

/** The partition Kafka's default partitioner picks for a non-null key. */
export function partitionForKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partition count must be a positive integer, got ${partitions}`);
  }
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  const length = key.length;
  if (length * 3 > scratch.length) scratch = new Uint8Array(Math.max(length * 3, scratch.length * 2));
  // Keys are nearly always ASCII, whose UTF-8 is the code units themselves; copying them is several
  // times cheaper than a call into the encoder for short keys.
  let i = 0;
  for (; i < length; i++) {
    const unit = key.charCodeAt(i);
    if (unit >= 0x80) break;
    scratch[i] = unit;
  }
  const size = i === length ? length : encoder.encodeInto(key, scratch).written;
  return toPositive(murmur2(scratch, size)) % partitions;
}
