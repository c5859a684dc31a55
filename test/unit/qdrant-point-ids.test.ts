import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isStorableId, PointIds, uuidV5 } from '../../streams/adapters/qdrant/point-ids.js';

const DNS_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

test('uuidV5 is RFC 4122 version 5 (the reference vector of the DNS namespace)', () => {
  assert.equal(uuidV5('www.example.com', DNS_NAMESPACE), '2ed6657d-e927-568b-95e1-2665a8aea6a2');
});

test('point ids are deterministic, v5-shaped and distinct for distinct ids', () => {
  const ids = new PointIds(4);
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
      const pa = ids.of(a);
      assert.match(pa, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(pa, uuidV5(a));
      assert.equal(ids.of(a), pa);
      assert.equal(pa === ids.of(b), a === b);
    }),
    { numRuns: 300 },
  );
});

test('the id cache stays within its capacity', () => {
  const ids = new PointIds(10);
  for (let i = 0; i < 100; i++) ids.of(`item-${i}`);
  assert.equal(ids.size, 10);
  assert.equal(ids.of('item-3'), uuidV5('item-3'));
});

test('ids with lone surrogates are not storable (UTF-8 would merge them)', () => {
  assert.equal(isStorableId('plain'), true);
  assert.equal(isStorableId('emoji 😀'), true);
  assert.equal(isStorableId('\uD800'), false);
  assert.equal(isStorableId('a\uDC00b'), false);
});
