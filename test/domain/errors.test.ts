import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AnyStintError,
  type DetailsOf,
  ERROR_DETAIL_FIELDS,
  ERROR_STATUS,
  type ErrorBody,
  type ErrorDetails,
  type ProviderFailureClass,
  StintError,
} from '../../src/domain/errors.js';

/**
 * Details are typed per code. The `@ts-expect-error` lines are the test: typecheck (tsconfig includes test/)
 * fails if any of them compiles, i.e. if a wrong details shape for a code were accepted.
 */
describe('StintError details', () => {
  it('keeps code, message, status and the details given', () => {
    const e = new StintError('INVALID_TRANSITION', 'cannot approve request r: it has ended', {
      state: 'expired',
    });
    expect(e.code).toBe('INVALID_TRANSITION');
    expect(e.message).toBe('cannot approve request r: it has ended');
    expect(e.status).toBe(ERROR_STATUS.INVALID_TRANSITION);
    expect(e.details).toEqual({ state: 'expired' });
    expect(new StintError('INVALID_TRANSITION', 'no details').details).toBeUndefined();
  });

  it('refuses, at compile time, details of the wrong shape or for a code that has none', () => {
    const refused = () => {
      // @ts-expect-error a state that does not exist
      new StintError('INVALID_TRANSITION', 'm', { state: 'paused' });
      // @ts-expect-error the details of another code
      new StintError('INVALID_TRANSITION', 'm', { tiers: ['peer'] });
      // @ts-expect-error a field of the wrong type
      new StintError('MFA_RATE_LIMITED', 'm', { retryAfterSeconds: '5' });
      // @ts-expect-error a required field missing
      new StintError('MFA_REQUIRED', 'm', { methods: ['totp'] });
      // @ts-expect-error a code that carries no details
      new StintError('REQUEST_NOT_FOUND', 'm', { id: 'req_1' });
    };
    expect(refused).toBeTypeOf('function');
  });

  it('types details per code for readers', () => {
    expectTypeOf(new StintError('PROVIDER_ERROR', 'm').details).toEqualTypeOf<
      | {
          resource?: string;
          sqlstate?: string;
          permanent?: true;
          cancelled?: true;
          class?: ProviderFailureClass;
        }
      | undefined
    >();
    expectTypeOf<DetailsOf<'REQUEST_NOT_FOUND'>>().toEqualTypeOf<undefined>();
    const narrow = (e: AnyStintError) =>
      e.code === 'MFA_RATE_LIMITED' ? e.details?.retryAfterSeconds : undefined;
    expectTypeOf(narrow).returns.toEqualTypeOf<number | undefined>();
    const body = (b: ErrorBody) => (b.code === 'TICKET_MALFORMED' ? b.details?.patterns : undefined);
    expectTypeOf(body).returns.toEqualTypeOf<string[] | undefined>();
  });

  it('documents every field of every code that has details', () => {
    type Undocumented = {
      [C in keyof ErrorDetails]: Exclude<keyof ErrorDetails[C], (typeof ERROR_DETAIL_FIELDS)[C][number]>;
    }[keyof ErrorDetails];
    expectTypeOf<Undocumented>().toEqualTypeOf<never>();
    expect(Object.keys(ERROR_DETAIL_FIELDS).every((code) => code in ERROR_STATUS)).toBe(true);
  });
});
