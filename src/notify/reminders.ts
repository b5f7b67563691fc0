import type { AuditWriter } from '../audit/audit-writer.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { StintDatabase } from '../store/database.js';
import { notifyDb, notifyTrx } from './notify-tables.js';

const BATCH = 100;

type Kind = 'approval' | 'expiry';

/**
 * Reminders are audit events like any other (`request.reminder` for approvers before a pending request times
 * out, `grant.expiring` for the requester before access ends), so they reach people through the same routing
 * and delivery as everything else. Each is recorded once per request, across servers: the marker row and the
 * event commit together. Only requests that existed before their reminder window opened get one, so a short
 * pending timeout or a short grant is not announced twice at once.
 */
export function createReminders(deps: {
  store: StintDatabase;
  audit: AuditWriter;
  policy: PolicySource;
  clock: () => Date;
}) {
  const db = notifyDb(deps.store.db);

  async function due(kind: Kind, windowMs: number, now: number) {
    const base = db
      .selectFrom('requests')
      .select(['id', 'resource', 'role', 'pending_until', 'expires_at'])
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('notify_reminders')
              .select('subject')
              .whereRef('notify_reminders.subject', '=', 'requests.id')
              .where('notify_reminders.kind', '=', kind),
          ),
        ),
      )
      .limit(BATCH);
    if (kind === 'approval') {
      return base
        .where('state', '=', 'pending')
        .where('pending_until', '>', now)
        .where('pending_until', '<=', now + windowMs)
        .where((eb) => eb('created_at', '<=', eb('pending_until', '-', windowMs)))
        .execute();
    }
    return base
      .where('state', '=', 'active')
      .where('expires_at', '>', now)
      .where('expires_at', '<=', now + windowMs)
      .where((eb) => eb('activated_at', '<=', eb('expires_at', '-', windowMs)))
      .execute();
  }

  async function remind(kind: Kind, windowSeconds: number | null, signal: AbortSignal): Promise<number> {
    if (windowSeconds === null) return 0;
    const now = deps.clock();
    let recorded = 0;
    for (const r of await due(kind, windowSeconds * 1000, now.getTime())) {
      if (signal.aborted) break;
      const at = Number(kind === 'approval' ? r.pending_until : r.expires_at);
      const done = await deps.store.db.transaction().execute(async (trx) => {
        const marked = await notifyTrx(trx)
          .insertInto('notify_reminders')
          .values({ subject: r.id, kind, at: now.getTime() })
          .onConflict((oc) => oc.columns(['subject', 'kind']).doNothing())
          .executeTakeFirst();
        if (Number(marked.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
        await deps.audit.append(trx, {
          at: now,
          actor: 'stint',
          action: kind === 'approval' ? 'request.reminder' : 'grant.expiring',
          requestId: r.id,
          target: { resource: r.resource, role: r.role },
          details:
            kind === 'approval'
              ? { pendingUntil: new Date(at).toISOString() }
              : { expiresAt: new Date(at).toISOString() },
        });
        return true;
      });
      if (done) recorded += 1;
    }
    return recorded;
  }

  return {
    /** Records the reminders due now; how many. */
    async run(signal: AbortSignal): Promise<number> {
      const settings = deps.policy.current().notifications;
      if (!settings) return 0;
      return (
        (await remind('approval', settings.reminders.approvalSeconds, signal)) +
        (await remind('expiry', settings.reminders.expirySeconds, signal))
      );
    },
  };
}
