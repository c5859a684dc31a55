import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Message } from 'kafkajs';
import { bySize } from '../../streams/adapters/kafka/kafka-sink.js';

test('bySize: groups stay under the byte limit, keep every message in order, and are never empty (property)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          topic: fc.constantFrom('a', 'b', 'c'),
          sizes: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 20 }),
        }),
        { maxLength: 5 },
      ),
      fc.integer({ min: 1, max: 500 }),
      (groups, maxBytes) => {
        let n = 0;
        const topicMessages: { topic: string; messages: Message[] }[] = groups.map(({ topic, sizes }) => ({
          topic,
          messages: sizes.map((size) => ({ key: `${n++}`.padStart(4, '0'), value: Buffer.alloc(size) })),
        }));
        const flat = (tm: { topic: string; messages: Message[] }[]) =>
          tm.flatMap(({ topic, messages }) => messages.map((m) => `${topic}/${String(m.key)}`));
        const chunks = [...bySize(topicMessages, maxBytes)];
        assert.deepEqual(chunks.flatMap(flat), flat(topicMessages));
        for (const chunk of chunks) {
          const messages = chunk.flatMap((t) => t.messages);
          assert.ok(messages.length > 0 && chunk.every((t) => t.messages.length > 0), 'no empty group');
          const bytes = messages.reduce((sum, m) => sum + 4 + (m.value as Buffer).length, 0);
          assert.ok(bytes <= maxBytes || messages.length === 1, `${bytes} bytes over ${maxBytes}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});
