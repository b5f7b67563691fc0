import type { Kysely } from 'kysely';
import type { AuditWriter } from '../audit/audit-writer.js';
import { createTokenStore } from '../auth/token-store.js';
import type { Clock } from '../domain/clock.js';
import type { Database } from '../store/schema.js';
import type { AuthSource } from './auth-audit.js';

/** The audit action announcing a token an operator made on the server host: its user is under `notify`. */
export const TOKEN_HOST_CREATED = 'token.host-created';
/** The audit action announcing a revocation an operator made on the server host. */
export const TOKEN_HOST_REVOKED = 'token.host-revoked';

/** How many unannounced tokens one sweep run takes; the rest stay due for the next. */
const SWEEP_BATCH = 100;

export interface HostTokens {
  /**
   * Called for every request made with a host-made token not yet announced, before it acts: writes
   * `token.host-created` in the transaction that marks the token announced, so across servers (and however
   * many first requests race) exactly one is written, and committed before the request goes on.
   */
  admit(use: { tokenId: string; source: AuthSource; now: Date }): Promise<void>;
  /**
   * Writes `token.host-created` in the caller's transaction if the token is host-made and not yet announced
   * (false otherwise): so an API revocation of a token nobody used still follows its creation in the trail.
   */
  announceCreated(trx: Kysely<Database>, id: string, now: Date, source: AuthSource | null): Promise<boolean>;
  /**
   * Announces what the host command did and nobody has seen yet: tokens made and never used, and revocations
   * (each after its token's creation). The identity module's sweep; returns how many events it wrote.
   */
  sweep(signal: AbortSignal): Promise<number>;
}

export function createHostTokens(deps: {
  db: Kysely<Database>;
  audit: AuditWriter;
  clock: Clock;
}): HostTokens {
  async function announceCreated(
    trx: Kysely<Database>,
    id: string,
    now: Date,
    source: AuthSource | null,
  ): Promise<boolean> {
    const tokens = createTokenStore(trx);
    if (!(await tokens.markAnnounced(id, now))) return false;
    const t = await tokens.record(id);
    if (!t?.hostMade) return false;
    await deps.audit.append(trx, {
      at: now,
      // The operator, not the person: the person never asked for this token.
      actor: `host:${t.hostMade.by}@${t.hostMade.host}`,
      action: TOKEN_HOST_CREATED,
      requestId: null,
      target: { principal: t.userId },
      ...(source ? { source } : {}),
      details: {
        id: t.id,
        name: t.name,
        user: t.userId,
        // Null: the user's full power.
        scopes: t.scopes,
        expiresAt: t.expiresAt,
        createdAt: t.createdAt,
        by: t.hostMade.by,
        host: t.hostMade.host,
        // Announced at its first use (with that request's source), or by the sweep before anyone used it.
        used: source !== null,
        // For the notifier: the person a full-power credential was made for should hear of it.
        notify: [t.userId],
      },
    });
    return true;
  }

  async function announceRevoked(trx: Kysely<Database>, id: string, now: Date): Promise<boolean> {
    const tokens = createTokenStore(trx);
    // A token made and revoked on the host with nobody using it in between: its creation is told first.
    const created = await announceCreated(trx, id, now, null);
    if (!(await tokens.markRevokeAnnounced(id, now))) return created;
    const t = await tokens.record(id);
    if (!t?.hostRevoked) return created;
    await deps.audit.append(trx, {
      at: now,
      actor: `host:${t.hostRevoked.by}@${t.hostRevoked.host}`,
      action: TOKEN_HOST_REVOKED,
      requestId: null,
      target: { principal: t.userId },
      details: {
        id: t.id,
        name: t.name,
        user: t.userId,
        scopes: t.scopes,
        expiresAt: t.expiresAt,
        revokedAt: t.revokedAt,
        by: t.hostRevoked.by,
        host: t.hostRevoked.host,
        notify: [t.userId],
      },
    });
    return true;
  }

  return {
    async admit(use) {
      await deps.db.transaction().execute((trx) => announceCreated(trx, use.tokenId, use.now, use.source));
    },
    announceCreated,
    async sweep(signal) {
      const due = await createTokenStore(deps.db).unannounced(SWEEP_BATCH);
      let written = 0;
      // Creations first, so a revocation in the same run follows its token's creation.
      for (const [ids, announce] of [
        [due.made, (trx: Kysely<Database>, id: string) => announceCreated(trx, id, deps.clock(), null)],
        [due.revoked, (trx: Kysely<Database>, id: string) => announceRevoked(trx, id, deps.clock())],
      ] as const) {
        for (const id of ids) {
          if (signal.aborted) return written;
          if (await deps.db.transaction().execute((trx) => announce(trx, id))) written++;
        }
      }
      return written;
    },
  };
}
