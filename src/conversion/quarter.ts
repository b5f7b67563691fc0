import { StintError } from '../domain/errors.js';

const QUARTER = /^(\d{4})-Q([1-4])$/;

/** `2026-Q4`, checked: the unit a conversion is planned in and reported by. */
export function parseQuarter(text: string): string {
  if (!QUARTER.test(text)) {
    throw new StintError('VALIDATION_FAILED', `quarter must look like 2026-Q4, not "${text.slice(0, 20)}"`);
  }
  return text;
}
