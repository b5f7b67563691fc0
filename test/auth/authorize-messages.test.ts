import { describe, expect, it } from 'vitest';
import { authorize } from '../../src/auth/authorize.js';
import type { Actor } from '../../src/domain/actor.js';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import { makeRequest } from '../domain/fixtures.js';

const person = (userId: string, roles: Partial<Actor> = {}): Actor => ({
  userId,
  security: false,
  admin: false,
  auditor: false,
  ...roles,
});

function refusal(fn: () => void): StintError {
  try {
    fn();
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

/** Refusals are read by people: they say what was refused, in words, and of which request. */
describe('FORBIDDEN messages', () => {
  // bob is an eligible approver of alice's request: he may read it, so he hears FORBIDDEN, not "not found".
  const request = makeRequest({ id: 'req_0123456789abcdef', state: 'active' });

  it('names the action in words and the request it was refused on', () => {
    const e = refusal(() => authorize(person('bob'), 'credential.take', request));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.message).toBe('bob may not take the credential of req_0123456789abcdef');
    expect(refusal(() => authorize(person('bob'), 'request.withdraw', request)).message).toBe(
      'bob may not withdraw req_0123456789abcdef',
    );
  });

  it('says what an action without a request is', () => {
    expect(refusal(() => authorize(person('bob'), 'request.list-all')).message).toBe(
      'bob may not list everyone’s requests',
    );
    expect(refusal(() => authorize(person('bob'), 'audit.read-all')).message).toBe(
      'bob may not read everyone’s audit events',
    );
    expect(refusal(() => authorize(person('bob'), 'token.manage-all')).message).toBe(
      'bob may not manage other people’s API tokens',
    );
  });
});
