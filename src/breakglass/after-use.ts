import { TERMINAL_STATES } from '../domain/request.js';
import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import type { BreakglassDeps } from './breakglass-deps.js';
import { asShared, type BgDatabase, bgDb } from './breakglass-tables.js';
import { openPostmortem } from './postmortems.js';
import { timelineOf } from './trail.js';

type InvocationRow = BgDatabase['breakglass_invocations'];

const TERMINAL = [...TERMINAL_STATES];

/** What a rotation means for a grant's credential, in the event (the provider contract has no rotate call). */
export const ROTATION_HOW =
  'the per-use credential was removed from the target and verified gone; the next use issues a new one';

/**
 * After every use, once the break-glass grant has ended (expired, revoked, failed) and its target is clean: the
 * resource is released, the credential's rotation is recorded, and the postmortem is opened, with the use's
 * timeline from the audit trail, all in one transaction claimed by `handled_at` (two servers do it once).
 *
 * A grant's credential is made for its request alone (a principal of its own, a fresh secret): removing it from
 * the target, which the revoker verifies (`verifyRevoked`), is its rotation, and the next invocation issues a new
 * one. A revocation that cannot finish (`abandoned`) is recorded as a failed rotation and alerted.
 */
export function createAfterUse(
  deps: Pick<BreakglassDeps, 'store' | 'grants' | 'audit' | 'clock' | 'logger'>,
) {
  const db = bgDb(deps.store);

  async function handle(row: InvocationRow): Promise<boolean> {
    const request = await deps.store.db
      .selectFrom('requests')
      .select(['state'])
      .where('id', '=', row.request_id)
      .executeTakeFirst();
    if (!request || !TERMINAL_STATES.has(request.state as never)) return false;
    const grant = await deps.grants.get(deps.store.db, row.request_id);
    // The revoker is still removing it from the target: the rotation is not true yet.
    if (grant && (grant.revocation === 'none' || grant.revocation === 'pending')) return false;
    const now = deps.clock();
    const handled = await db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('breakglass_invocations')
        .set({ handled_at: now.getTime() })
        .where('request_id', '=', row.request_id)
        .where('handled_at', 'is', null)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) return false;
      await trx
        .deleteFrom('breakglass_holders')
        .where('resource', '=', row.resource)
        .where('request_id', '=', row.request_id)
        .execute();
      const target = { resource: row.resource, role: row.role };
      const base = { at: now, actor: SYSTEM_ACTOR, requestId: row.request_id, target };
      await deps.audit.append(asShared(trx), [
        {
          ...base,
          action: 'breakglass.ended',
          details: { resource: row.resource, holder: row.holder, state: request.state, released: true },
        },
        ...(grant === undefined
          ? []
          : grant.revocation === 'done'
            ? [
                {
                  ...base,
                  action: 'breakglass.rotated',
                  details: { resource: row.resource, principal: grant.principal, how: ROTATION_HOW },
                },
              ]
            : [
                {
                  ...base,
                  action: 'breakglass.rotation_failed',
                  details: {
                    resource: row.resource,
                    principal: grant.principal,
                    error: grant.revoke_error ?? 'the revocation was abandoned',
                    alert: true,
                    notify: ['security'],
                  },
                },
              ]),
      ]);
      await openPostmortem(
        trx,
        deps.audit,
        {
          subjectRef: `grant:${row.request_id}`,
          requestId: row.request_id,
          resource: row.resource,
          owner: row.postmortem_owner,
          dueSeconds: row.postmortem_due_seconds,
          ...(row.drill_id ? { classification: 'drill' as const } : {}),
          timeline: await timelineOf(asShared(trx), row.request_id),
        },
        now,
      );
      return true;
    });
    if (handled) {
      deps.logger.info(
        { requestId: row.request_id, resource: row.resource },
        'break-glass use ended: postmortem opened',
      );
    }
    return handled;
  }

  return {
    /** Handles one invocation now if its grant has ended (a drill's rotation step); true when it was done here. */
    async handleOne(requestId: string): Promise<boolean> {
      const row = await db
        .selectFrom('breakglass_invocations')
        .selectAll()
        .where('request_id', '=', requestId)
        .where('handled_at', 'is', null)
        .executeTakeFirst();
      return row ? handle(row) : false;
    },
    async sweep(signal: AbortSignal): Promise<number> {
      const rows = await db
        .selectFrom('breakglass_invocations')
        .selectAll()
        .where('handled_at', 'is', null)
        .where('request_id', 'in', (eb) =>
          eb.selectFrom('requests').select('id').where('state', 'in', TERMINAL),
        )
        .limit(100)
        .execute();
      let done = 0;
      for (const row of rows) {
        if (signal.aborted) break;
        if (await handle(row)) done += 1;
      }
      return done;
    },
  };
}

export type AfterUse = ReturnType<typeof createAfterUse>;
