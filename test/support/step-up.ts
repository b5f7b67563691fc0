import { generate } from 'otplib';
import type { Stint } from '../../src/app/stint.js';
import { TOTP_PERIOD_SECONDS } from '../../src/mfa/totp.js';
import type { Actor } from '../../src/requests/request-types.js';

/**
 * Gives `user` a fresh second factor the way a person would: enroll TOTP, confirm it with one code, step up with
 * the next. Step-ups are bound to the credential that made them, so the step-up is made with the user's API token.
 */
export async function stepUp(stint: Pick<Stint, 'mfa' | 'deps'>, user: string, token: string): Promise<void> {
  const id = /^stint_([A-Za-z0-9_-]{16})\./.exec(token)?.[1];
  const directory = stint.deps.policy.current().users.get(user);
  if (!id || !directory) throw new Error(`cannot step up ${user}`);
  const actor: Actor = {
    userId: user,
    security: directory.security,
    admin: directory.admin,
    auditor: directory.auditor,
    credential: { kind: 'api-token', id, scopes: null },
    source: { ip: '127.0.0.1', userAgent: 'test' },
  };
  // Factors are enrolled by the person in a session they have just signed in to; the step-up that follows is
  // made with the API token, which is what the tests then act with.
  const signedIn: Actor = {
    ...actor,
    credential: { kind: 'session', id: `signin-${id}`, scopes: null },
    authAt: new Date(),
  };
  const { secret } = await stint.mfa.service.enrollTotp(signedIn);
  const now = Math.floor(Date.now() / 1000);
  // Two different time-steps, both within the one-step tolerance: a code is never accepted twice.
  const previous = await generate({ secret, epoch: now - TOTP_PERIOD_SECONDS, period: TOTP_PERIOD_SECONDS });
  const current = await generate({ secret, epoch: now, period: TOTP_PERIOD_SECONDS });
  await stint.mfa.service.confirmTotp(signedIn, previous);
  await stint.mfa.service.verify(actor, { method: 'totp', code: current });
}
