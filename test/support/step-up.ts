import { generate } from 'otplib';
import type { Stint } from '../../src/app/stint.js';
import type { Actor } from '../../src/domain/actor.js';
import { TOTP_PERIOD_SECONDS } from '../../src/mfa/totp.js';

/** The code an authenticator app shows for `secret` at `at`, `offsetSteps` time-steps later. */
export const totpCode = (secret: string, at: Date, offsetSteps = 0) =>
  generate({
    secret,
    epoch: Math.floor(at.getTime() / 1000) + offsetSteps * TOTP_PERIOD_SECONDS,
    period: TOTP_PERIOD_SECONDS,
  });

/**
 * Six-digit codes that are wrong for `secret` at `at` and for two time-steps either side: wrong whenever within
 * a minute of `at` they are checked (a fixed guess like 000000 is right one time in 10^6 / 3).
 */
export async function wrongTotpCodes(secret: string, at: Date, count: number): Promise<string[]> {
  const near = new Set<string>();
  for (let step = -2; step <= 2; step++) near.add(await totpCode(secret, at, step));
  const wrong: string[] = [];
  for (let n = 0; wrong.length < count; n++) {
    const code = String(n * 7919 + 100_003).slice(-6);
    if (!near.has(code) && !wrong.includes(code)) wrong.push(code);
  }
  return wrong;
}

/**
 * Gives `user` a fresh second factor the way a person would: enroll TOTP, confirm it with one code, step up with
 * the next. Step-ups are bound to the credential that made them, so the step-up is made with the user's API token.
 * Answers the TOTP secret.
 *
 * The codes come from the app's own clock (the one its TOTP check reads), for the step it shows now (confirm)
 * and the next one (verify): both are within the one-step tolerance whether or not a 30-s boundary passes
 * between reading the clock and the checks, and the second is later than the first, so the replay guard takes
 * both. (Confirming with the previous step's code, as this did, was refused as two steps old whenever a boundary
 * passed in between.)
 */
export async function stepUp(
  stint: Pick<Stint, 'mfa' | 'deps'>,
  user: string,
  token: string,
): Promise<string> {
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
    authAt: stint.deps.clock(),
  };
  const { secret } = await stint.mfa.service.enrollTotp(signedIn);
  const now = stint.deps.clock();
  const current = await totpCode(secret, now);
  const next = await totpCode(secret, now, 1);
  await stint.mfa.service.confirmTotp(signedIn, current);
  await stint.mfa.service.verify(actor, { method: 'totp', code: next });
  return secret;
}
