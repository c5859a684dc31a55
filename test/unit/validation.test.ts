import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ValidationLimits,
  validateClickEvent,
  validateItemEvent,
} from '../../streams/codec/validation.js';
import type { DeadLetterReason, InvalidRecordError } from '../../streams/errors.js';
import type { ClickEvent, ItemEvent } from '../../streams/model/events.js';

const NOW = 1_700_000_000_000;
const limits: ValidationLimits = { maxFutureSkewMs: 60_000, minEventTime: 946_684_800_000, dimension: 4 };

const click: ClickEvent = {
  eventId: 'e-1',
  userId: 'u-1',
  itemId: 'i-1',
  type: 'click',
  eventTime: NOW - 1000,
  sessionId: null,
  context: {},
};

const item: ItemEvent = {
  itemId: 'i-1',
  op: 'upsert',
  title: 'Kettle',
  categories: [],
  tags: [],
  available: true,
  contentVector: [0.1, 0.2, 0.3, 0.4],
  updatedAt: NOW - 1000,
};

function assertReason(err: InvalidRecordError | null, reason: DeadLetterReason, detail: RegExp): void {
  assert.ok(err !== null, `expected ${reason}`);
  assert.equal(err.reason, reason, err.message);
  assert.match(err.detail, detail);
}

describe('validateClickEvent', () => {
  it('accepts a valid event, including one exactly at the skew and minimum limits', () => {
    assert.equal(validateClickEvent(click, NOW, limits), null);
    assert.equal(
      validateClickEvent({ ...click, eventTime: NOW + limits.maxFutureSkewMs }, NOW, limits),
      null,
    );
    assert.equal(validateClickEvent({ ...click, eventTime: limits.minEventTime }, NOW, limits), null);
  });

  it('empty ids → invalid_value', () => {
    assertReason(validateClickEvent({ ...click, eventId: '' }, NOW, limits), 'invalid_value', /eventId/);
    assertReason(validateClickEvent({ ...click, userId: '' }, NOW, limits), 'invalid_value', /userId/);
    assertReason(validateClickEvent({ ...click, itemId: '' }, NOW, limits), 'invalid_value', /itemId/);
  });

  it('unknown type → unknown_event_type', () => {
    const odd = { ...click, type: 'share' } as unknown as ClickEvent;
    assertReason(validateClickEvent(odd, NOW, limits), 'unknown_event_type', /"share"/);
    const missing = { ...click, type: undefined } as unknown as ClickEvent;
    assertReason(validateClickEvent(missing, NOW, limits), 'unknown_event_type', /undefined/);
  });

  it('non-finite event time → non_finite_number', () => {
    for (const t of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      assertReason(
        validateClickEvent({ ...click, eventTime: t }, NOW, limits),
        'non_finite_number',
        /eventTime/,
      );
    }
  });

  it('event time beyond the allowed skew → future_timestamp', () => {
    const e = { ...click, eventTime: NOW + limits.maxFutureSkewMs + 1 };
    assertReason(validateClickEvent(e, NOW, limits), 'future_timestamp', /eventTime .* 60001 ms ahead/);
  });

  it('event time before the minimum → invalid_value', () => {
    assertReason(
      validateClickEvent({ ...click, eventTime: 0 }, NOW, limits),
      'invalid_value',
      /eventTime 0 is before/,
    );
  });
});

describe('validateItemEvent', () => {
  it('accepts a valid event, a null vector and any dimension when unchecked', () => {
    assert.equal(validateItemEvent(item, NOW, limits), null);
    assert.equal(validateItemEvent({ ...item, contentVector: null }, NOW, limits), null);
    assert.equal(
      validateItemEvent({ ...item, contentVector: [1, 2] }, NOW, { ...limits, dimension: null }),
      null,
    );
    assert.equal(validateItemEvent({ ...item, op: 'delete' }, NOW, limits), null);
  });

  it('empty item id or unknown op → invalid_value', () => {
    assertReason(validateItemEvent({ ...item, itemId: '' }, NOW, limits), 'invalid_value', /itemId/);
    const odd = { ...item, op: 'patch' } as unknown as ItemEvent;
    assertReason(validateItemEvent(odd, NOW, limits), 'invalid_value', /op "patch"/);
  });

  it('non-finite updatedAt → non_finite_number', () => {
    assertReason(
      validateItemEvent({ ...item, updatedAt: Number.NaN }, NOW, limits),
      'non_finite_number',
      /updatedAt/,
    );
  });

  it('updatedAt in the future or before the minimum', () => {
    assertReason(
      validateItemEvent({ ...item, updatedAt: NOW + 3_600_000 }, NOW, limits),
      'future_timestamp',
      /updatedAt/,
    );
    assertReason(validateItemEvent({ ...item, updatedAt: 5 }, NOW, limits), 'invalid_value', /updatedAt/);
  });

  it('NaN or ±Infinity in the content vector → non_finite_number, naming the index', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const e = { ...item, contentVector: [0, 1, bad, 2] };
      assertReason(validateItemEvent(e, NOW, limits), 'non_finite_number', /contentVector\[2\]/);
    }
  });

  it('content vector of the wrong length → wrong_dimension', () => {
    assertReason(
      validateItemEvent({ ...item, contentVector: [1, 2, 3] }, NOW, limits),
      'wrong_dimension',
      /3 dimensions, expected 4/,
    );
    assertReason(
      validateItemEvent({ ...item, contentVector: [] }, NOW, limits),
      'wrong_dimension',
      /0 dimensions/,
    );
  });
});
