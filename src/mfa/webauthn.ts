import { createHash } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Actor } from '../domain/actor.js';
import { StintError } from '../domain/errors.js';
import { type Attempts, type MfaAttempt, mfaEvent } from './attempts.js';
import { logFactorChange, recordStepUp, requireFactorChange } from './factors.js';
import type { WebAuthnConfig } from './mfa-config.js';
import { type ChallengePurpose, mfaStore } from './mfa-store.js';
import type { MfaService, MfaServiceDeps, WebAuthnResponseJSON } from './mfa-types.js';

/** How long a challenge may be answered: long enough to find the key and touch it. */
export const CHALLENGE_TTL_SECONDS = 300;

/** The challenge the client signed, read from clientDataJSON, so it can be looked up (and spent) server-side. */
function challengeOf(response: WebAuthnResponseJSON): string | null {
  const inner = response.response;
  if (inner === null || typeof inner !== 'object') return null;
  const text = (inner as Record<string, unknown>).clientDataJSON;
  if (typeof text !== 'string') return null;
  try {
    const client = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof client.challenge === 'string' ? client.challenge : null;
  } catch {
    return null;
  }
}

/** An opaque, stable user handle: the WebAuthn spec asks that it carry no personal data. */
const userHandle = (userId: string) =>
  new Uint8Array(createHash('sha256').update(`stint-user:${userId}`).digest());

type WebAuthnPart = Pick<
  MfaService,
  | 'webauthnRegisterOptions'
  | 'webauthnRegisterVerify'
  | 'webauthnAuthenticateOptions'
  | 'webauthnAuthenticateVerify'
>;

/**
 * @simplewebauthn/server (with @peculiar/x509 and asn1js under it, ~5 MB of heap) loads at the first WebAuthn
 * call: most servers use TOTP or no step-up at all. A failed load is tried again at the next call.
 */
let loading: Promise<typeof import('@simplewebauthn/server')> | undefined;
function sdk(): Promise<typeof import('@simplewebauthn/server')> {
  loading ??= import('@simplewebauthn/server').catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

export function createWebAuthn(deps: MfaServiceDeps & { attempts: Attempts }) {
  const db = deps.store.db;
  const { attempts } = deps;

  function config(): WebAuthnConfig {
    if (deps.config.webauthn) return deps.config.webauthn;
    throw new StintError(
      'BAD_REQUEST',
      'WebAuthn is not configured on this server (STINT_WEBAUTHN_ORIGIN, STINT_WEBAUTHN_RP_ID): use TOTP',
    );
  }

  async function issueChallenge(actor: Actor, purpose: ChallengePurpose, challenge: string): Promise<void> {
    const now = deps.clock();
    await mfaStore.pruneChallenges(db, now);
    await mfaStore.addChallenge(
      db,
      actor.userId,
      purpose,
      challenge,
      new Date(now.getTime() + CHALLENGE_TTL_SECONDS * 1000),
    );
  }

  /** Spends the challenge the response answers; unknown, expired, another user's or already used all fail. */
  async function spendChallenge(
    actor: Actor,
    attempt: MfaAttempt,
    purpose: ChallengePurpose,
    response: WebAuthnResponseJSON,
  ) {
    const stage = purpose === 'register' ? 'register' : 'verify';
    const challenge = challengeOf(response);
    if (challenge && (await mfaStore.consumeChallenge(db, actor.userId, purpose, challenge, deps.clock()))) {
      return challenge;
    }
    return attempt.fail(
      { method: 'webauthn', stage, reason: 'unknown-challenge' },
      'MFA_INVALID',
      'the WebAuthn challenge is unknown, expired or already used: ask for new options',
    );
  }

  const part: WebAuthnPart = {
    async webauthnRegisterOptions(actor) {
      const rp = config();
      await requireFactorChange(deps, actor);
      const existing = await mfaStore.listCredentials(db, actor.userId);
      const options = await (await sdk()).generateRegistrationOptions({
        rpName: rp.rpName,
        rpID: rp.rpId,
        userName: actor.userId,
        userID: userHandle(actor.userId),
        timeout: CHALLENGE_TTL_SECONDS * 1000,
        attestationType: 'none',
        excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports })),
        authenticatorSelection: { residentKey: 'discouraged', userVerification: 'preferred' },
      });
      await issueChallenge(actor, 'register', options.challenge);
      return options;
    },

    async webauthnRegisterVerify(actor, response) {
      const rp = config();
      await requireFactorChange(deps, actor);
      const attempt = await attempts.begin(actor, 'webauthn', 'register');
      const challenge = await spendChallenge(actor, attempt, 'register', response);
      let credential: { id: string; publicKey: Uint8Array; counter: number; transports?: string[] };
      try {
        const result = await (await sdk()).verifyRegistrationResponse({
          response: response as unknown as RegistrationResponseJSON,
          expectedChallenge: challenge,
          expectedOrigin: rp.origin,
          expectedRPID: rp.rpId,
          requireUserVerification: false,
        });
        if (!result.verified) throw new Error('registration not verified');
        credential = result.registrationInfo.credential;
      } catch {
        return attempt.fail(
          { method: 'webauthn', stage: 'register', reason: 'invalid-response' },
          'MFA_INVALID',
          'the authenticator response did not verify',
        );
      }
      const now = deps.clock();
      await db.transaction().execute(async (trx) => {
        await attempt.release(trx);
        await mfaStore.addCredential(
          trx,
          {
            id: credential.id,
            userId: actor.userId,
            publicKey: Buffer.from(credential.publicKey).toString('base64url'),
            counter: credential.counter,
            transports: credential.transports ?? [],
          },
          now,
        );
        await deps.audit.append(
          trx,
          mfaEvent(actor, now, 'mfa.enrolled', {
            method: 'webauthn',
            stage: 'register',
            authenticatorId: credential.id,
            notify: [actor.userId],
          }),
        );
      });
      logFactorChange(deps.logger, {
        userId: actor.userId,
        action: 'mfa.enrolled',
        method: 'webauthn',
        by: actor.userId,
      });
      return { credentialId: credential.id };
    },

    async webauthnAuthenticateOptions(actor) {
      const rp = config();
      const credentials = await mfaStore.listCredentials(db, actor.userId);
      if (credentials.length === 0) {
        throw new StintError('MFA_NOT_ENROLLED', 'no WebAuthn authenticator registered', {
          methods: await deps.stepUp.methods(actor.userId),
        });
      }
      const options = await (await sdk()).generateAuthenticationOptions({
        rpID: rp.rpId,
        allowCredentials: credentials.map((c) => ({ id: c.id, transports: c.transports })),
        userVerification: 'preferred',
        timeout: CHALLENGE_TTL_SECONDS * 1000,
      });
      await issueChallenge(actor, 'authenticate', options.challenge);
      return options;
    },

    async webauthnAuthenticateVerify(actor, response) {
      const rp = config();
      const attempt = await attempts.begin(actor, 'webauthn', 'verify');
      const challenge = await spendChallenge(actor, attempt, 'authenticate', response);
      const id = typeof response.id === 'string' ? response.id : '';
      const stored = id ? await mfaStore.getCredential(db, actor.userId, id) : null;
      if (!stored) {
        return attempt.fail(
          { method: 'webauthn', stage: 'verify', reason: 'unknown-credential' },
          'MFA_INVALID',
          'this authenticator is not registered to you',
        );
      }
      let newCounter: number;
      try {
        const result = await (await sdk()).verifyAuthenticationResponse({
          response: response as unknown as AuthenticationResponseJSON,
          expectedChallenge: challenge,
          expectedOrigin: rp.origin,
          expectedRPID: rp.rpId,
          credential: {
            id: stored.id,
            publicKey: new Uint8Array(Buffer.from(stored.publicKey, 'base64url')),
            counter: stored.counter,
            transports: stored.transports,
          },
          requireUserVerification: false,
        });
        if (!result.verified) throw new Error('assertion not verified');
        newCounter = result.authenticationInfo.newCounter;
      } catch {
        return attempt.fail(
          { method: 'webauthn', stage: 'verify', reason: 'invalid-response', authenticatorId: stored.id },
          'MFA_INVALID',
          'the authenticator response did not verify',
        );
      }
      const now = deps.clock();
      const view = await db.transaction().execute(async (trx) => {
        if (!(await mfaStore.useCredential(trx, stored.id, stored.counter, newCounter, now))) return null;
        await attempt.release(trx);
        return recordStepUp(deps, trx, actor, 'webauthn', now, { authenticatorId: stored.id });
      });
      if (view === null) {
        return attempt.fail(
          { method: 'webauthn', stage: 'verify', reason: 'replayed', authenticatorId: stored.id },
          'MFA_REPLAYED',
          'this authenticator was used concurrently: try again',
        );
      }
      return view;
    },
  };
  return part;
}
