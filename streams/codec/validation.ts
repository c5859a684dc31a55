/**
 * Semantic checks on decoded events: what Avro cannot express (non-empty ids, sane timestamps,
 * finite vectors of the right size). Runs on every event, so the success path allocates nothing.
 */

import { InvalidRecordError } from '../errors.js';
import { type ClickEvent, EVENT_TYPES, type ItemEvent } from '../model/events.js';

export interface ValidationLimits {
  /** How far ahead of the processing clock an event time may be (producer clock skew). */
  maxFutureSkewMs: number;
  /** Event times before this (ms since the epoch) are rejected as bogus, e.g. 0 from a missing clock. */
  minEventTime: number;
  /** Expected content vector dimension; null = don't check. */
  dimension: number | null;
}

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

function checkTime(
  field: string,
  t: number,
  nowMs: number,
  limits: ValidationLimits,
): InvalidRecordError | null {
  // typeof guards against a JSON producer or a resolver handing over something that is not a number.
  if (typeof t !== 'number' || !Number.isFinite(t)) {
    return new InvalidRecordError('non_finite_number', `${field} is ${String(t)}`);
  }
  if (t > nowMs + limits.maxFutureSkewMs) {
    return new InvalidRecordError(
      'future_timestamp',
      `${field} ${t} is ${t - nowMs} ms ahead of now (${nowMs}); at most ${limits.maxFutureSkewMs} ms allowed`,
    );
  }
  if (t < limits.minEventTime) {
    return new InvalidRecordError(
      'invalid_value',
      `${field} ${t} is before the minimum event time ${limits.minEventTime}`,
    );
  }
  return null;
}

function isEmptyId(id: string): boolean {
  return typeof id !== 'string' || id.length === 0;
}

export function validateClickEvent(
  e: ClickEvent,
  nowMs: number,
  limits: ValidationLimits,
): InvalidRecordError | null {
  if (isEmptyId(e.eventId)) return new InvalidRecordError('invalid_value', 'eventId is empty');
  if (isEmptyId(e.userId)) return new InvalidRecordError('invalid_value', 'userId is empty');
  if (isEmptyId(e.itemId)) return new InvalidRecordError('invalid_value', 'itemId is empty');
  if (!EVENT_TYPE_SET.has(e.type)) {
    return new InvalidRecordError(
      'unknown_event_type',
      `type ${JSON.stringify(e.type) ?? String(e.type)} is not one of ${EVENT_TYPES.join(', ')}`,
    );
  }
  return checkTime('eventTime', e.eventTime, nowMs, limits);
}

export function validateItemEvent(
  e: ItemEvent,
  nowMs: number,
  limits: ValidationLimits,
): InvalidRecordError | null {
  if (isEmptyId(e.itemId)) return new InvalidRecordError('invalid_value', 'itemId is empty');
  if (e.op !== 'upsert' && e.op !== 'delete') {
    return new InvalidRecordError(
      'invalid_value',
      `op ${JSON.stringify(e.op) ?? String(e.op)} is not upsert or delete`,
    );
  }
  const timeError = checkTime('updatedAt', e.updatedAt, nowMs, limits);
  if (timeError !== null) return timeError;
  const vector = e.contentVector;
  if (vector !== null && vector !== undefined) {
    for (let i = 0; i < vector.length; i++) {
      const x = vector[i];
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        return new InvalidRecordError('non_finite_number', `contentVector[${i}] is ${String(x)}`);
      }
    }
    if (limits.dimension !== null && vector.length !== limits.dimension) {
      return new InvalidRecordError(
        'wrong_dimension',
        `contentVector has ${vector.length} dimensions, expected ${limits.dimension}`,
      );
    }
  }
  return null;
}
