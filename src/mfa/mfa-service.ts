import type { Actor } from '../domain/actor.js';
import { StintError } from '../domain/errors.js';
import { type Attempts, createAttempts, DEFAULT_RATE_LIMIT, mfaEvent } from './attempts.js';
import { createFactorReset } from './factor-reset.js';
import { logFactorChange, recordStepUp, requireFactorChange, requirePersonSession } from './factors.js';
import { mfaStore } from './mfa-store.js';
import type { MfaService, MfaServiceDeps, MfaStatusView } from './mfa-types.js';
import { isFresh } from './step-up.js';
import { checkTotp, newTotpSecret, totpUri } from './totp.js';
import { createWebAuthn } from './webauthn.js';

/** Associated data of a sealed TOTP secret: copied onto another user's row, it does not open. */
export const totpAad = (userId: string) => `mfa-totp:${userId}`;

export function createMfaService(deps: MfaServiceDeps): MfaService {
  const db = deps.store.db;
  const attempts: Attempts = createAttempts({
    store: deps.store,
    audit: deps.audit,
    clock: deps.clock,
    limit: deps.rateLimit ?? DEFAULT_RATE_LIMIT,
  });
  const webauthn = createWebAuthn({ ...deps, attempts });
  const resets = createFactorReset({
    store: deps.store,
    audit: deps.audit,
    clock: deps.clock,
    stepUp: deps.stepUp,
    userExists: deps.userExists ?? (() => false),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });

  /**
   * Checks a code against the user's secret and takes its time-step. The attempt is counted before the code is
   * checked; the caller releases it once the step is claimed, or fails it (a replay).
   */
  async function acceptCode(actor: Actor, code: string, stage: 'confirm' | 'verify') {
    const attempt = await attempts.begin(actor, 'totp', stage);
    const row = await mfaStore.getTotp(db, actor.userId);
    const confirming = stage === 'confirm';
    if (confirming && row?.confirmedAt) {
      await attempt.release();
      throw new StintError('MFA_ALREADY_ENROLLED', 'TOTP is already confirmed for this account');
    }
    if (!row || (!confirming && row.confirmedAt === null)) {
      // Not a guess at a code, so not counted against the rate limit; still an audited failure.
      await attempt.release();
      await deps.audit.append(
        db,
        mfaEvent(actor, deps.clock(), 'mfa.failed', { method: 'totp', stage, reason: 'not-enrolled' }),
      );
    }
    if (!row) {
      throw new StintError('MFA_NOT_ENROLLED', 'no TOTP enrolled: run `stint mfa enroll totp`', {
        methods: await deps.stepUp.methods(actor.userId),
      });
    }
    if (!confirming && row.confirmedAt === null) {
      throw new StintError(
        'MFA_NOT_ENROLLED',
        'the TOTP enrollment is not confirmed yet: confirm it with a code first (`stint mfa enroll totp --code`)',
        { methods: await deps.stepUp.methods(actor.userId) },
      );
    }
    const secret = deps.secrets.open(row.secretEnc, totpAad(actor.userId));
    const now = deps.clock();
    const check = await checkTotp(secret, code, now);
    if (!check.valid) {
      return attempt.fail(
        { method: 'totp', stage, reason: 'wrong-code' },
        'MFA_INVALID',
        'wrong code: use the current code of the authenticator app, and check the clock of its device',
      );
    }
    return { now, step: check.step, attempt };
  }

  async function status(actor: Actor): Promise<MfaStatusView> {
    const [totp, credentials, latest] = await Promise.all([
      mfaStore.getTotp(db, actor.userId),
      mfaStore.listCredentials(db, actor.userId),
      mfaStore.latestVerification(db, actor.userId, actor.credential?.id),
    ]);
    const now = deps.clock();
    const candidates = [latest, actor.mfaAt ?? null].filter((d): d is Date =>
      isFresh(d, now, deps.stepUp.maxAgeSeconds),
    );
    const fresh = candidates.sort((a, b) => b.getTime() - a.getTime())[0] ?? null;
    return {
      totp: totp === null ? 'none' : totp.confirmedAt === null ? 'pending' : 'confirmed',
      webauthnCredentials: credentials.length,
      verifiedAt: fresh?.toISOString() ?? null,
      validUntil: fresh ? new Date(fresh.getTime() + deps.stepUp.maxAgeSeconds * 1000).toISOString() : null,
      maxAgeSeconds: deps.stepUp.maxAgeSeconds,
    };
  }

  return {
    status,

    async enrollTotp(actor) {
      requirePersonSession(actor);
      const existing = await mfaStore.getTotp(db, actor.userId);
      if (existing?.confirmedAt) {
        throw new StintError(
          'MFA_ALREADY_ENROLLED',
          'a TOTP is already enrolled; one per account (ask an administrator to reset it)',
        );
      }
      await requireFactorChange(deps, actor);
      const secret = newTotpSecret();
      const now = deps.clock();
      const stored = await mfaStore.putPendingTotp(
        db,
        actor.userId,
        deps.secrets.seal(secret, totpAad(actor.userId)),
        now,
      );
      if (!stored) throw new StintError('MFA_ALREADY_ENROLLED', 'a TOTP is already enrolled');
      return { secret, otpauthUrl: totpUri(secret, actor.userId, deps.config.issuer) };
    },

    async confirmTotp(actor, code) {
      await requireFactorChange(deps, actor);
      const { now, step, attempt } = await acceptCode(actor, code, 'confirm');
      const confirmed = await db.transaction().execute(async (trx) => {
        if (!(await mfaStore.claimStep(trx, actor.userId, step, now))) return false;
        await attempt.release(trx);
        await deps.audit.append(
          trx,
          mfaEvent(actor, now, 'mfa.enrolled', { method: 'totp', stage: 'confirm', notify: [actor.userId] }),
        );
        return true;
      });
      if (confirmed) {
        logFactorChange(deps.logger, {
          userId: actor.userId,
          action: 'mfa.enrolled',
          method: 'totp',
          by: actor.userId,
        });
      }
      if (!confirmed) {
        await attempt.fail(
          { method: 'totp', stage: 'confirm', reason: 'replayed' },
          'MFA_REPLAYED',
          'this code was already used: wait for the next one',
        );
      }
      return status(actor);
    },

    async verify(actor, input) {
      const { now, step, attempt } = await acceptCode(actor, input.code, 'verify');
      const view = await db.transaction().execute(async (trx) => {
        // A code proves possession once: the same code, or an older one, seen again is a replay.
        if (!(await mfaStore.claimStep(trx, actor.userId, step, null))) return null;
        await attempt.release(trx);
        return recordStepUp(deps, trx, actor, 'totp', now);
      });
      if (view === null) {
        return attempt.fail(
          { method: 'totp', stage: 'verify', reason: 'replayed' },
          'MFA_REPLAYED',
          'this code was already used: wait for the next one',
        );
      }
      return view;
    },

    ...webauthn,
    requestReset: resets.request,
    confirmReset: resets.confirm,
  };
}
