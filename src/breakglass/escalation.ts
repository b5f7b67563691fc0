import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import type { BreakglassDeps } from './breakglass-deps.js';
import { asShared, type BgDatabase, bgDb } from './breakglass-tables.js';
import { eventsAfter, type TrailEvent } from './trail.js';

type InvocationRow = BgDatabase['breakglass_invocations'];

/** Escalated this many times at most; past it the alert has reached everyone it can. */
export const MAX_ESCALATIONS = 3;

/** The action the notifier writes when a receiver acknowledged an event (its `details.eventSeq`). */
export const ACK_ACTION = 'notification.acknowledged';

/**
 * Nobody acknowledged a break-glass alert within the entry's `escalateAfter`: `breakglass.escalated` (level 1,
 * then 2 … each time it passes again), for the notifier to send wider. Acknowledgements are read from the audit
 * trail: a `notification.acknowledged` event whose `details.eventSeq` is the invocation's `breakglass.invoked`
 * seq, or one of its escalations' seqs. The first one found is recorded (`breakglass.acknowledged`) and ends the
 * escalation. Each step is claimed by a conditional update, so two servers sweeping together write it once.
 */
export function createEscalation(deps: Pick<BreakglassDeps, 'store' | 'audit' | 'clock' | 'logger'>) {
  const db = bgDb(deps.store);

  function ackFor(row: InvocationRow, acks: TrailEvent[], escalations: TrailEvent[]): TrailEvent | undefined {
    const mine = new Set<number>([row.invoked_seq]);
    for (const e of escalations) if (e.details.invokedSeq === row.invoked_seq) mine.add(e.seq);
    return acks.find((a) => typeof a.details.eventSeq === 'number' && mine.has(a.details.eventSeq));
  }

  async function acknowledge(row: InvocationRow, ack: TrailEvent, now: Date): Promise<boolean> {
    return db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('breakglass_invocations')
        .set({ acknowledged_at: ack.at.getTime(), acknowledged_seq: ack.seq })
        .where('request_id', '=', row.request_id)
        .where('acknowledged_at', 'is', null)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) return false;
      await deps.audit.append(asShared(trx), {
        at: now,
        actor: SYSTEM_ACTOR,
        action: 'breakglass.acknowledged',
        requestId: row.request_id,
        target: { resource: row.resource, role: row.role },
        details: {
          invokedSeq: row.invoked_seq,
          ackSeq: ack.seq,
          by: typeof ack.details.by === 'string' ? ack.details.by : ack.actor,
          ...(typeof ack.details.channel === 'string' ? { channel: ack.details.channel } : {}),
          level: row.escalation_level,
        },
      });
      return true;
    });
  }

  async function escalate(row: InvocationRow, now: Date): Promise<boolean> {
    const level = row.escalation_level + 1;
    const next = level < MAX_ESCALATIONS ? now.getTime() + row.escalate_after_seconds * 1000 : null;
    return db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('breakglass_invocations')
        .set({ escalation_level: level, next_escalation_at: next })
        .where('request_id', '=', row.request_id)
        .where('escalation_level', '=', row.escalation_level)
        .where('acknowledged_at', 'is', null)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) return false;
      await deps.audit.append(asShared(trx), {
        at: now,
        actor: SYSTEM_ACTOR,
        action: 'breakglass.escalated',
        requestId: row.request_id,
        target: { resource: row.resource, role: row.role },
        details: {
          invokedSeq: row.invoked_seq,
          level,
          channels: JSON.parse(row.channels) as string[],
          resource: row.resource,
          holder: row.holder,
          unacknowledgedFor: `${Math.round((now.getTime() - row.invoked_at) / 60_000)}m`,
          alert: true,
          notify: ['security'],
        },
      });
      return true;
    });
  }

  return {
    async sweep(signal: AbortSignal): Promise<number> {
      const rows = await db
        .selectFrom('breakglass_invocations')
        .selectAll()
        .where('acknowledged_at', 'is', null)
        .where('invoked_seq', '>=', 0)
        .orderBy('invoked_seq')
        .limit(200)
        .execute();
      if (rows.length === 0) return 0;
      const from = Math.min(...rows.map((r) => r.invoked_seq));
      const [acks, escalations] = await Promise.all([
        eventsAfter(deps.store.db, from, [ACK_ACTION]),
        eventsAfter(deps.store.db, from, ['breakglass.escalated']),
      ]);
      let changed = 0;
      for (const row of rows) {
        if (signal.aborted) break;
        const now = deps.clock();
        const ack = ackFor(row, acks, escalations);
        if (ack) {
          if (await acknowledge(row, ack, now)) changed += 1;
          continue;
        }
        if (row.next_escalation_at === null || now.getTime() < row.next_escalation_at) continue;
        if (await escalate(row, now)) {
          changed += 1;
          deps.logger.warn(
            { requestId: row.request_id, resource: row.resource, level: row.escalation_level + 1 },
            'break-glass alert not acknowledged: escalated',
          );
        }
      }
      return changed;
    },
  };
}
