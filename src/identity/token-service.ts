import type { Kysely } from 'kysely';
import type { AuditWriter } from '../audit/audit-writer.js';
import { can } from '../auth/authorize.js';
import { type ApiTokenView, createTokenStore } from '../auth/token-store.js';
import type { Actor } from '../domain/actor.js';
import type { Clock } from '../domain/clock.js';
import { StintError } from '../domain/errors.js';
import type { Database } from '../store/schema.js';
import type { HostTokens } from './host-tokens.js';

export const TOKEN_CREATED = 'token.created';
export const TOKEN_REVOKED = 'token.revoked';

const DAY_MS = 86_400_000;

export interface TokenService {
  /** A scoped, expiring token for the actor; its `token.created` event commits with the row, or neither does. */
  create(
    actor: Actor,
    input: { name: string; scopes: readonly string[]; expiresInDays: number },
  ): Promise<ApiTokenView & { token: string }>;
  /**
   * Revokes the actor's token, or anyone's for an admin (another's is NOT_FOUND otherwise); `token.revoked`
   * commits with the revocation. Revoking a revoked token changes nothing and writes nothing.
   */
  revoke(actor: Actor, id: string): Promise<ApiTokenView>;
}

/** What the events about a token say of it: never its secret or hash (the store's view has neither). */
function facts(t: ApiTokenView) {
  return { id: t.id, name: t.name, user: t.userId, scopes: t.scopes, expiresAt: t.expiresAt };
}

/**
 * Who can act changes when a token is made or revoked, so each change writes its audit event in the transaction
 * that changes the row: a token never exists, or stops, without its event.
 */
export function createTokenService(deps: {
  db: Kysely<Database>;
  audit: AuditWriter;
  clock: Clock;
  hostTokens: Pick<HostTokens, 'announceCreated'>;
}): TokenService {
  return {
    async create(actor, input) {
      const now = deps.clock();
      const expiresAt = new Date(now.getTime() + input.expiresInDays * DAY_MS);
      return deps.db.transaction().execute(async (trx) => {
        const tokens = createTokenStore(trx);
        // A token minted with a host-made session carries its mark: the session's power is not laundered.
        const hostSession = actor.hostSession?.id ?? null;
        const created = await tokens.create(actor.userId, input.name, now, expiresAt, input.scopes, {
          hostSession,
        });
        const view = await tokens.get(created.id);
        if (!view) throw new Error(`token ${created.id} vanished inside its own transaction`);
        await deps.audit.append(trx, {
          at: now,
          actor: actor.userId,
          action: TOKEN_CREATED,
          requestId: null,
          target: { principal: actor.userId },
          ...(actor.source ? { source: actor.source } : {}),
          details: { ...facts(view), ...(hostSession ? { hostSession } : {}) },
        });
        return { ...view, token: created.token };
      });
    },

    async revoke(actor, id) {
      const now = deps.clock();
      return deps.db.transaction().execute(async (trx) => {
        const tokens = createTokenStore(trx);
        const token = await tokens.get(id);
        if (!token || (token.userId !== actor.userId && !can(actor, 'token.manage-all'))) {
          throw new StintError('NOT_FOUND', `token ${id} not found`);
        }
        // A host-made token nobody used yet: its creation goes in the trail before its end.
        await deps.hostTokens.announceCreated(trx, id, now, null);
        if ((await tokens.revoke(id, now)) === 'revoked') {
          const revoked = await tokens.get(id);
          if (!revoked) throw new Error(`token ${id} vanished inside its own transaction`);
          const other = token.userId !== actor.userId;
          await deps.audit.append(trx, {
            at: now,
            actor: actor.userId,
            action: TOKEN_REVOKED,
            requestId: null,
            target: { principal: token.userId },
            ...(actor.source ? { source: actor.source } : {}),
            // The owner hears when someone else (an admin) ends their token.
            details: {
              ...facts(revoked),
              revokedAt: revoked.revokedAt,
              ...(other ? { notify: [token.userId] } : {}),
            },
          });
          return revoked;
        }
        const unchanged = await tokens.get(id);
        // Never taken: revoking keeps the row, and tokens are never deleted.
        if (!unchanged) throw new StintError('NOT_FOUND', `token ${id} not found`);
        return unchanged;
      });
    },
  };
}
