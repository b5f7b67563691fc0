import { randomBytes } from 'node:crypto';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Actor } from '../domain/actor.js';
import type { Clock } from '../domain/clock.js';
import { StintError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import type { StintDatabase } from '../store/database.js';
import type { Database } from '../store/schema.js';
import { logFactorChange } from './factors.js';
import type { FactorResetView } from './mfa-types.js';
import type { StepUp } from './step-up.js';

/** How long an asked-for reset waits for its confirmation. */
export const RESET_TTL_MS = 24 * 3_600_000;

export interface FactorResetDeps {
  store: Pick<StintDatabase, 'db'>;
  audit: AuditWriter;
  clock: Clock;
  stepUp: Pick<StepUp, 'require'>;
  /** Whether the directory knows a user: a reset for nobody is a typo. */
  userExists: (userId: string) => boolean;
  logger?: Pick<Logger, 'warn'>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

function view(r: Database['mfa_resets']): FactorResetView {
  return {
    id: r.id,
    user: r.user_id,
    reason: r.reason,
    requestedBy: r.requested_by,
    requestedAt: new Date(Number(r.requested_at)).toISOString(),
    expiresAt: new Date(Number(r.expires_at)).toISOString(),
    confirmedBy: r.confirmed_by,
    confirmedAt: iso(r.confirmed_at),
  };
}

/**
 * A person who lost their authenticator gets back in through two others: an admin asks for the reset of their
 * second factors, and someone from security (not the admin, not the person) confirms it; only then are the
 * factors and step-ups removed. Both steps need a fresh second factor of their own, both are audited, and both
 * name the person under `notify`, so they learn of it even when it was not them who asked.
 */
export function createFactorReset(deps: FactorResetDeps) {
  const db = deps.store.db;

  return {
    async request(actor: Actor, input: { user: string; reason: string }): Promise<FactorResetView> {
      if (!actor.admin) throw new StintError('FORBIDDEN', 'only an admin asks for a factor reset');
      if (input.user === actor.userId) {
        throw new StintError('FORBIDDEN', 'a reset of your own factors is asked for by another admin');
      }
      if (!deps.userExists(input.user)) {
        throw new StintError('UNKNOWN_USER', `${input.user} is not in the directory`);
      }
      await deps.stepUp.require(actor, 'asking for a factor reset');
      const now = deps.clock();
      const row: Database['mfa_resets'] = {
        id: `mfr_${randomBytes(8).toString('hex')}`,
        user_id: input.user,
        reason: input.reason,
        requested_by: actor.userId,
        requested_at: now.getTime(),
        expires_at: now.getTime() + RESET_TTL_MS,
        confirmed_by: null,
        confirmed_at: null,
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('mfa_resets').values(row).execute();
        await deps.audit.append(trx, {
          at: now,
          actor: actor.userId,
          action: 'mfa.reset-requested',
          requestId: null,
          reason: input.reason,
          details: { resetId: row.id, user: input.user, notify: [input.user] },
          ...(actor.source ? { source: actor.source } : {}),
        });
      });
      logFactorChange(deps.logger, { userId: input.user, action: 'mfa.reset-requested', by: actor.userId });
      return view(row);
    },

    async confirm(actor: Actor, id: string): Promise<FactorResetView> {
      if (!actor.security) throw new StintError('FORBIDDEN', 'a factor reset is confirmed by security');
      const found = await db.selectFrom('mfa_resets').selectAll().where('id', '=', id).executeTakeFirst();
      const now = deps.clock();
      if (!found || found.confirmed_at !== null || Number(found.expires_at) <= now.getTime()) {
        throw new StintError('NOT_FOUND', `no open factor reset ${id} (unknown, expired or already done)`);
      }
      if (found.requested_by === actor.userId) {
        throw new StintError(
          'SELF_APPROVAL',
          'the reset needs a second person: not the admin who asked for it',
        );
      }
      if (found.user_id === actor.userId) {
        throw new StintError('FORBIDDEN', 'a reset of your own factors is confirmed by someone else');
      }
      await deps.stepUp.require(actor, 'confirming a factor reset');
      const user = found.user_id;
      const done = await db.transaction().execute(async (trx) => {
        // Conditional, so two confirmations racing cannot both reset (nor one confirm an expired reset).
        const claimed = await trx
          .updateTable('mfa_resets')
          .set({ confirmed_by: actor.userId, confirmed_at: now.getTime() })
          .where('id', '=', id)
          .where('confirmed_at', 'is', null)
          .where('expires_at', '>', now.getTime())
          .executeTakeFirst();
        if (claimed.numUpdatedRows !== 1n) return false;
        const removed = {
          totp: Number(
            (await trx.deleteFrom('mfa_totp').where('user_id', '=', user).executeTakeFirst()).numDeletedRows,
          ),
          webauthn: Number(
            (await trx.deleteFrom('webauthn_credentials').where('user_id', '=', user).executeTakeFirst())
              .numDeletedRows,
          ),
        };
        // Step-ups made with the lost factor stop counting, and no ceremony started with it can finish.
        await trx.deleteFrom('mfa_verifications').where('user_id', '=', user).execute();
        await trx.deleteFrom('webauthn_challenges').where('user_id', '=', user).execute();
        await deps.audit.append(trx, {
          at: now,
          actor: actor.userId,
          action: 'mfa.reset',
          requestId: null,
          reason: found.reason,
          details: {
            resetId: id,
            user,
            requestedBy: found.requested_by,
            removed,
            notify: [user, found.requested_by],
          },
          ...(actor.source ? { source: actor.source } : {}),
        });
        return true;
      });
      if (!done)
        throw new StintError('NOT_FOUND', `no open factor reset ${id} (unknown, expired or already done)`);
      logFactorChange(deps.logger, { userId: user, action: 'mfa.reset', by: actor.userId });
      return view({ ...found, confirmed_by: actor.userId, confirmed_at: now.getTime() });
    },
  };
}

export type FactorReset = ReturnType<typeof createFactorReset>;
