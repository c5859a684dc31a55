import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExactVectorIndex } from '../../streams/adapters/memory/exact-vector-index.js';
import { dotScores, dotScoresPair } from '../../streams/adapters/memory/scan-kernels.js';
import { createScanKernel } from '../../streams/adapters/memory/simd-scan.js';
import { EddyError } from '../../streams/errors.js';
import { Random } from '../../streams/util/random.js';

test('the SIMD kernels compile on this Node and score bit for bit like the JavaScript kernels', () => {
  const kernel = createScanKernel(4);
  assert.ok(kernel, 'WebAssembly SIMD is available on every supported Node (≥ 20)');
  const rng = new Random(3);
  const awkward = [0, -0, 1e-40, -1e-40, 3.4e38, -3.4e38, 1, -1, 0.1];
  for (const dimension of [4, 8, 32]) {
    const count = 37;
    const buffer: ArrayBuffer = kernel.memory.buffer;
    const q1At = 0;
    const q2At = 8 * dimension;
    const vectorsAt = 16 * dimension;
    const out1At = vectorsAt + 4 * dimension * count;
    const out2At = out1At + 8 * count;
    const vectors = new Float32Array(buffer, vectorsAt, dimension * count);
    const component = (): number => (rng.next() < 0.2 ? awkward[rng.int(awkward.length)]! : rng.normal());
    for (let i = 0; i < vectors.length; i++) vectors[i] = component();
    const q1 = Float32Array.from({ length: dimension }, component);
    const q2 = Float32Array.from({ length: dimension }, component);
    new Float64Array(buffer, q1At, dimension).set(q1);
    new Float64Array(buffer, q2At, dimension).set(q2);

    const expected1 = new Float64Array(count);
    const expected2 = new Float64Array(count);
    dotScoresPair(vectors, q1, q2, dimension, count, expected1, expected2);
    kernel.dotPair(vectorsAt, q1At, q2At, dimension / 4, count, out1At, out2At);
    assert.deepStrictEqual(
      new Float64Array(buffer, out1At, count),
      expected1,
      `pair, first, d = ${dimension}`,
    );
    assert.deepStrictEqual(
      new Float64Array(buffer, out2At, count),
      expected2,
      `pair, second, d = ${dimension}`,
    );

    const single = new Float64Array(count);
    dotScores(vectors, q2, dimension, count, single);
    kernel.dot(vectorsAt, q2At, dimension / 4, count, out1At);
    assert.deepStrictEqual(new Float64Array(buffer, out1At, count), single, `single, d = ${dimension}`);
  }
});

test('a collection the kernel memory cannot hold fails with an error that names it and points to Qdrant', async () => {
  const index = new ExactVectorIndex();
  // 64 slots (the initial capacity) of 2^24 float32 components need 4 GiB, past WebAssembly's limit.
  await assert.rejects(
    index.ensureCollection({ name: 'huge', dimension: 2 ** 24, distance: 'dot' }),
    (error: unknown) =>
      error instanceof EddyError &&
      /collection huge: the in-process index cannot hold 64 vectors of dimension 16,777,216 .*use Qdrant/.test(
        error.message,
      ),
  );
});
