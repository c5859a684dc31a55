import type { PipelineCodecs } from '../pipeline/pipeline-context.js';
import { codecs } from './avro.js';
import { type ValidationLimits, validateClickEvent, validateItemEvent } from './validation.js';

export type { ValidationLimits };

export const DEFAULT_VALIDATION_LIMITS = (dimension: number): ValidationLimits => ({
  maxFutureSkewMs: 24 * 3_600_000,
  minEventTime: 0,
  dimension,
});

/** The Avro codecs plus validation, in the shape the pipeline asks for. */
export function avroPipelineCodecs(
  dimension: number,
  overrides: Partial<ValidationLimits> = {},
): PipelineCodecs {
  const limits: ValidationLimits = { ...DEFAULT_VALIDATION_LIMITS(dimension), ...overrides };
  return {
    decodeClick: (bytes) => codecs.clickEvent.decode(bytes),
    decodeItem: (bytes) => codecs.itemEvent.decode(bytes),
    encodeList: (list) => codecs.recommendationList.encode(list),
    validateClick: (event, now) => validateClickEvent(event, now, limits),
    validateItem: (event, now) => validateItemEvent(event, now, limits),
  };
}
