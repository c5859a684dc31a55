/** The exact scan's scoring kernels in JavaScript (`simd-scan.ts` has the SIMD ones). */

/*
 * The scoring kernels sum in four partial sums (lane j % 4, combined as (s0 + s1) + (s2 + s3), any
 * components past the last multiple of 4 going to s0): a single running sum is bound by the latency
 * of each add, four let the CPU overlap them. The order is fixed, so scores are deterministic and a
 * reference implementation can reproduce them bit for bit.
 */

export function dotScores(
  vectors: Float32Array,
  q: Float32Array,
  dimension: number,
  size: number,
  out: Float64Array,
): void {
  const unrolled = dimension & ~3;
  for (let slot = 0, base = 0; slot < size; slot++, base += dimension) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (let k = base; j < unrolled; j += 4, k += 4) {
      s0 += q[j]! * vectors[k]!;
      s1 += q[j + 1]! * vectors[k + 1]!;
      s2 += q[j + 2]! * vectors[k + 2]!;
      s3 += q[j + 3]! * vectors[k + 3]!;
    }
    for (; j < dimension; j++) s0 += q[j]! * vectors[base + j]!;
    out[slot] = s0 + s1 + (s2 + s3);
  }
}

/** `dotScores` for two queries at once: each vector is loaded once for both (same summation order). */
export function dotScoresPair(
  vectors: Float32Array,
  q1: Float32Array,
  q2: Float32Array,
  dimension: number,
  size: number,
  out1: Float64Array,
  out2: Float64Array,
): void {
  const unrolled = dimension & ~3;
  for (let slot = 0, base = 0; slot < size; slot++, base += dimension) {
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    let b3 = 0;
    let j = 0;
    for (let k = base; j < unrolled; j += 4, k += 4) {
      const v0 = vectors[k]!;
      const v1 = vectors[k + 1]!;
      const v2 = vectors[k + 2]!;
      const v3 = vectors[k + 3]!;
      a0 += q1[j]! * v0;
      a1 += q1[j + 1]! * v1;
      a2 += q1[j + 2]! * v2;
      a3 += q1[j + 3]! * v3;
      b0 += q2[j]! * v0;
      b1 += q2[j + 1]! * v1;
      b2 += q2[j + 2]! * v2;
      b3 += q2[j + 3]! * v3;
    }
    for (; j < dimension; j++) {
      const v = vectors[base + j]!;
      a0 += q1[j]! * v;
      b0 += q2[j]! * v;
    }
    out1[slot] = a0 + a1 + (a2 + a3);
    out2[slot] = b0 + b1 + (b2 + b3);
  }
}

export function euclidScores(
  vectors: Float32Array,
  q: Float32Array,
  dimension: number,
  size: number,
  out: Float64Array,
): void {
  const unrolled = dimension & ~3;
  for (let slot = 0, base = 0; slot < size; slot++, base += dimension) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (let k = base; j < unrolled; j += 4, k += 4) {
      const d0 = q[j]! - vectors[k]!;
      const d1 = q[j + 1]! - vectors[k + 1]!;
      const d2 = q[j + 2]! - vectors[k + 2]!;
      const d3 = q[j + 3]! - vectors[k + 3]!;
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
    }
    for (; j < dimension; j++) {
      const d = q[j]! - vectors[base + j]!;
      s0 += d * d;
    }
    // `0 -` rather than unary minus so a zero distance scores +0, not -0.
    out[slot] = 0 - Math.sqrt(s0 + s1 + (s2 + s3));
  }
}
