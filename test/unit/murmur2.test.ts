import assert from 'node:assert/strict';
import { test } from 'node:test';
import { murmur2, partitionForKey, toPositive } from '../../streams/util/murmur2.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

test('murmur2 matches the vectors of Kafka UtilsTest.testMurmur2', () => {
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [input, expected] of vectors) assert.equal(murmur2(utf8(input)), expected, input);
  // Raw bytes rather than text (sarama's vector, generated with the JVM client).
  assert.equal(murmur2(new Uint8Array([12, 42, 56, 24, 109, 111])), 274204207);
});

test('murmur2 matches librdkafka for the empty input and odd tail lengths', () => {
  // librdkafka's murmur2 partitioner tests state these already masked with 0x7fffffff.
  assert.equal(toPositive(murmur2(utf8(''))), 0x106e08d9);
  assert.equal(toPositive(murmur2(utf8('hejsan'))), 0x5ec19395);
  assert.equal(
    toPositive(murmur2(utf8('this is another string with more length to it perhaps'))),
    0x4f7703da,
  );
});

test('toPositive clears the sign bit, including for the minimum int', () => {
  assert.equal(toPositive(-973932308), 1173551340);
  assert.equal(toPositive(-2147483648), 0);
  assert.equal(toPositive(479470107), 479470107);
});

test('partitionForKey is toPositive(murmur2(utf8(key))) % partitions', () => {
  assert.equal(partitionForKey('21', 1 << 30), 1173551340 % (1 << 30));
  assert.equal(partitionForKey('foobar', 12), toPositive(-790332482) % 12);
  // Multi-byte UTF-8 and a key longer than the encoder's initial scratch buffer.
  for (const key of ['über-ключ-🔑', 'x'.repeat(1000), '🔑'.repeat(300)]) {
    assert.equal(partitionForKey(key, 7), toPositive(murmur2(utf8(key))) % 7, key.slice(0, 20));
  }
});

test('partitionForKey stays in range and is deterministic', () => {
  for (const partitions of [1, 2, 3, 7, 64]) {
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const p = partitionForKey(`user-${i}`, partitions);
      assert.ok(Number.isInteger(p) && p >= 0 && p < partitions, `${p} of ${partitions}`);
      assert.equal(partitionForKey(`user-${i}`, partitions), p);
      seen.add(p);
    }
    assert.equal(seen.size, partitions, 'every partition receives keys');
  }
  assert.throws(() => partitionForKey('k', 0), RangeError);
  assert.throws(() => partitionForKey('k', 1.5), RangeError);
});
