/**
 * Dense vector kernels on Float32Array. Everything here works in place or into a caller-owned
 * buffer, because these run several times per event and must not allocate.
 */

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function norm(a: Float32Array): number {
  return Math.sqrt(dot(a, a));
}

/** Cosine similarity; 0 when either vector is zero (an empty preference is not similar to anything). */
export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  const d = Math.sqrt(aa * bb);
  return d > 0 ? ab / d : 0;
}

/** out ← a / |a| (zero stays zero). `out` may be `a`. */
export function normalizeInto(out: Float32Array, a: Float32Array): Float32Array {
  const n = norm(a);
  const inv = n > 0 ? 1 / n : 0;
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * inv;
  return out;
}

/** y ← y·scale + alpha·x (the decayed accumulation every preference update is made of). */
export function scaleAndAdd(y: Float32Array, scale: number, alpha: number, x: Float32Array): void {
  for (let i = 0; i < y.length; i++) y[i] = y[i]! * scale + alpha * x[i]!;
}

export function scaleInPlace(y: Float32Array, scale: number): void {
  for (let i = 0; i < y.length; i++) y[i] = y[i]! * scale;
}

export function isZero(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

/**
 * The exponential-decay factor for `elapsedMs` at a given half-life: 2^(-elapsed/halfLife).
 * Out-of-order events (negative elapsed time) neither decay nor grow the state.
 */
export function decayFactor(elapsedMs: number, halfLifeMs: number): number {
  if (!(elapsedMs > 0)) return 1;
  if (!(halfLifeMs > 0)) return 0;
  return Math.exp((-Math.LN2 * elapsedMs) / halfLifeMs);
}

export function sigmoid(x: number): number {
  if (x >= 0) {
    const z = Math.exp(-x);
    return 1 / (1 + z);
  }
  const z = Math.exp(x);
  return z / (1 + z);
}
