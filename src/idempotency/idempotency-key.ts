import { StintError } from '../domain/errors.js';

/** What a key may be: long enough to be unique when random, short enough to store, no spaces or quotes. */
const KEY = /^[A-Za-z0-9._:~+/=-]{16,128}$/;

/**
 * The Idempotency-Key header's value. The draft makes it a Structured Field string (`"…"`); the bare form is
 * accepted too, as most clients send it. Anything else is refused, so a key never means two things.
 */
export function parseIdempotencyKey(header: string | string[]): string {
  if (Array.isArray(header)) {
    throw new StintError('IDEMPOTENCY_KEY_INVALID', 'send one Idempotency-Key header, not several');
  }
  const quoted = header.length >= 2 && header.startsWith('"') && header.endsWith('"');
  const key = quoted ? header.slice(1, -1) : header;
  if (!KEY.test(key)) {
    throw new StintError(
      'IDEMPOTENCY_KEY_INVALID',
      'Idempotency-Key must be 16 to 128 characters of A-Z a-z 0-9 . _ : ~ + / = - (a UUID will do), optionally quoted',
    );
  }
  return key;
}
