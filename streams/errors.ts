/**
 * Eddy's error classes, after KafkaJS: one base class, a subclass per failure kind,
 * each carrying the facts an operator needs (which setting, which field, which record).
 */

export class EddyError extends Error {
  override readonly name: string = 'EddyError';
}

/** Invalid configuration: always names the setting (flag and env var) and the expected form. */
export class ConfigError extends EddyError {
  override readonly name = 'ConfigError';
  constructor(
    readonly setting: string,
    readonly expected: string,
    readonly received: string,
  ) {
    super(`invalid setting ${setting}: expected ${expected}, got ${JSON.stringify(received)}`);
  }
}

/** Machine-readable reason classes for dead letters (bounded: used as a metric label). */
export const DEAD_LETTER_REASONS = [
  'not_avro',
  'unknown_schema',
  'wrong_schema',
  'missing_field',
  'wrong_type',
  'unknown_event_type',
  'non_finite_number',
  'wrong_dimension',
  'future_timestamp',
  'key_mismatch',
  'invalid_value',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** A record that cannot become an event. It goes to the dead-letter topic; it never stops the pipeline. */
export class InvalidRecordError extends EddyError {
  override readonly name = 'InvalidRecordError';
  constructor(
    readonly reason: DeadLetterReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}
