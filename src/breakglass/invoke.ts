import type { Actor } from '../domain/actor.js';
import { StintError } from '../domain/errors.js';
import { type AccessRequest, TERMINAL_STATES } from '../domain/request.js';
import { invoked } from '../domain/state-machine.js';
import { CLAIM_MS } from '../grants/claim.js';
import { newRequestId } from '../requests/request-service.js';
import { toRequestView } from '../requests/request-view.js';
import type { BreakglassDeps } from './breakglass-deps.js';
import { asShared, type BgDatabase, bgDb } from './breakglass-tables.js';
import { type InvocationView, type InvokeInput, isStaff } from './breakglass-types.js';
import { entryFor, mayBreakGlass } from './entries.js';
import { seqOf } from './trail.js';

type InvocationRow = BgDatabase['breakglass_invocations'];

const TERMINAL = [...TERMINAL_STATES];

/**
 * Invoking break-glass: emergency access that skips approval, for whom the policy's `breakglass:` block names,
 * with a fresh second factor and a reason, for a short while. It is exclusive per resource: the holder row's
 * primary key admits one, on SQLite and across PostgreSQL servers alike (a second insert waits for the first's
 * commit, then finds the row). The request, its approval (tier `breakglass`), the holder row and the security
 * alert `breakglass.invoked` commit in one transaction: if the alert cannot be written, nothing is granted. The
 * credential is then issued at once through the grants issuer; the holder takes it like any other.
 */
export function createInvoker(deps: BreakglassDeps) {
  const db = bgDb(deps.store);

  /** A refused attempt is itself worth a look: recorded (in its own transaction), then the refusal stands. */
  async function refused(actor: Actor, input: InvokeInput, e: StintError): Promise<never> {
    await deps.audit
      .append(deps.store.db, {
        at: deps.clock(),
        actor: actor.userId,
        action: 'breakglass.refused',
        requestId: null,
        target: { resource: input.resource, role: input.role },
        details: {
          resource: input.resource,
          role: input.role,
          code: e.code,
          alert: true,
          notify: ['security'],
        },
        ...(actor.source ? { source: actor.source } : {}),
      })
      .catch((err: unknown) => deps.logger.error({ err }, 'recording a refused break-glass failed'));
    throw e;
  }

  async function toView(row: InvocationRow): Promise<InvocationView> {
    const request = await deps.requests.mustGet(deps.store.db, row.request_id);
    const grant = await deps.grants.get(deps.store.db, row.request_id);
    return {
      requestId: row.request_id,
      resource: row.resource,
      role: row.role,
      holder: row.holder,
      entry: row.entry_id,
      invokedAt: new Date(row.invoked_at).toISOString(),
      invokedSeq: row.invoked_seq,
      channels: JSON.parse(row.channels) as string[],
      escalateAfterSeconds: row.escalate_after_seconds,
      escalationLevel: row.escalation_level,
      acknowledgedAt: row.acknowledged_at === null ? null : new Date(row.acknowledged_at).toISOString(),
      drillId: row.drill_id,
      request: toRequestView(request, grant),
    };
  }

  async function invoke(
    actor: Actor,
    input: InvokeInput,
    opts: { drillId?: string } = {},
  ): Promise<InvocationView> {
    const reason = input.reason.trim();
    if (reason === '') {
      throw new StintError('TICKET_REQUIRED', 'break-glass needs a reason: what is on fire, in a few words');
    }
    const policy = deps.policy.current();
    const resource = policy.resources.get(input.resource);
    if (!resource) throw new StintError('UNKNOWN_RESOURCE', `unknown resource "${input.resource}"`);
    if (!Object.hasOwn(resource.roles, input.role)) {
      throw new StintError('UNKNOWN_ROLE', `resource "${input.resource}" has no role "${input.role}"`);
    }
    const entry = entryFor(policy, input.resource, input.role);
    if (!entry || !mayBreakGlass(entry, policy.users.get(actor.userId))) {
      return refused(
        actor,
        input,
        new StintError(
          'NOT_ELIGIBLE',
          `${actor.userId} may not break glass on ${input.resource}/${input.role}: no break-glass entry of the policy names them`,
          { ruleId: entry?.id ?? 'breakglass' },
        ),
      );
    }
    const durationSeconds = input.durationSeconds ?? entry.maxDurationSeconds;
    if (durationSeconds > entry.maxDurationSeconds) {
      throw new StintError(
        'DURATION_TOO_LONG',
        `break-glass on ${input.resource} lasts at most ${entry.maxDurationSeconds} s`,
        { maxDurationSeconds: entry.maxDurationSeconds, requestedSeconds: durationSeconds },
      );
    }
    try {
      await deps.stepUp.require(actor, 'breaking glass');
    } catch (e) {
      if (e instanceof StintError) return refused(actor, input, e);
      throw e;
    }
    deps.assertAuditWritable();

    const now = deps.clock();
    const request: AccessRequest = {
      id: newRequestId(),
      requester: actor.userId,
      resource: input.resource,
      role: input.role,
      reason,
      durationSeconds,
      state: 'pending',
      policyVersion: policy.version,
      ruleId: `breakglass:${entry.id}`,
      tiers: ['breakglass'],
      slots: [],
      reviews: [],
      createdAt: now,
      pendingUntil: now,
      approvedAt: null,
      activatedAt: null,
      expiresAt: null,
      endedAt: null,
      endedBy: null,
      endReason: null,
      version: 1,
    };
    const [made, approval] = invoked(request);
    const approved = approval.request;
    const alert = {
      resource: input.resource,
      role: input.role,
      holder: actor.userId,
      reason,
      channels: entry.channels,
      alert: true,
      notify: ['security'],
      entry: entry.id,
      durationSeconds,
      escalateAfterSeconds: entry.escalateAfterSeconds,
      // The session is recorded and reviewed in full (the recording capability reads this).
      review: 'required',
      ...(opts.drillId ? { drillId: opts.drillId } : {}),
    };

    let row: InvocationRow;
    try {
      row = await db.transaction().execute(async (trx) => {
        const shared = asShared(trx);
        // A holder whose access has ended frees the resource.
        await trx
          .deleteFrom('breakglass_holders')
          .where('resource', '=', input.resource)
          .where('request_id', 'in', trx.selectFrom('requests').select('id').where('state', 'in', TERMINAL))
          .execute();
        const taken = await trx
          .insertInto('breakglass_holders')
          .values({
            resource: input.resource,
            request_id: request.id,
            holder: actor.userId,
            since: now.getTime(),
          })
          .onConflict((oc) => oc.column('resource').doNothing())
          .executeTakeFirst();
        if (Number(taken.numInsertedOrUpdatedRows ?? 0) !== 1) {
          const held = await trx
            .selectFrom('breakglass_holders')
            .selectAll()
            .where('resource', '=', input.resource)
            .executeTakeFirst();
          throw new StintError(
            'BREAKGLASS_HELD',
            `${held?.holder ?? 'someone'} holds break-glass on ${input.resource} now (${held?.request_id ?? 'unknown'}): one holder at a time`,
            { holder: held?.holder ?? 'unknown', requestId: held?.request_id ?? 'unknown' },
          );
        }
        await deps.requests.insert(shared, request);
        await deps.requests.apply(shared, request, approval);
        await deps.requests.claimIssue(shared, request.id, now, CLAIM_MS);
        const target = { resource: input.resource, role: input.role };
        const source = actor.source ? { source: actor.source } : {};
        try {
          await deps.audit.append(shared, [
            {
              at: now,
              actor: made.actor,
              action: made.action,
              requestId: request.id,
              target,
              reason,
              details: made.details,
              ...source,
            },
            {
              at: now,
              actor: approval.actor,
              action: approval.action,
              requestId: request.id,
              target,
              details: approval.details,
              ...source,
            },
            {
              at: now,
              actor: actor.userId,
              action: 'breakglass.invoked',
              requestId: request.id,
              target,
              reason,
              details: alert,
              ...source,
            },
          ]);
        } catch (e) {
          deps.logger.error(
            { err: e, resource: input.resource },
            'the break-glass alert could not be written',
          );
          throw new StintError(
            'AUDIT_UNAVAILABLE',
            'the break-glass alert could not be written, so break-glass is refused: nothing was granted',
          );
        }
        const invokedSeq = await seqOf(shared, request.id, 'breakglass.invoked');
        const values: InvocationRow = {
          request_id: request.id,
          entry_id: entry.id,
          resource: input.resource,
          role: input.role,
          holder: actor.userId,
          channels: JSON.stringify(entry.channels),
          invoked_seq: invokedSeq ?? -1,
          invoked_at: now.getTime(),
          escalate_after_seconds: entry.escalateAfterSeconds,
          escalation_level: 0,
          next_escalation_at: now.getTime() + entry.escalateAfterSeconds * 1000,
          acknowledged_at: null,
          acknowledged_seq: null,
          postmortem_owner: entry.postmortem.owner ?? actor.userId,
          postmortem_due_seconds: entry.postmortem.dueSeconds,
          drill_id: opts.drillId ?? null,
          handled_at: null,
        };
        await trx.insertInto('breakglass_invocations').values(values).execute();
        return values;
      });
    } catch (e) {
      if (e instanceof StintError && e.code === 'BREAKGLASS_HELD') return refused(actor, input, e);
      throw e;
    }
    deps.logger.warn(
      { requestId: request.id, resource: input.resource, role: input.role, holder: actor.userId },
      'break-glass invoked: security alerted',
    );
    // Issued now, not after the commit by a timer: in an emergency the holder waits for the credential. If this
    // server dies first, the claim lapses and any server's sweeper issues it from the `approved` row.
    await deps.issuer.issueClaimed(approved).catch((err: unknown) => {
      deps.logger.error({ requestId: request.id, err }, 'break-glass issuance failed; the sweeper retries');
    });
    return toView(row);
  }

  return {
    invoke,
    async list(actor: Actor, q: { live?: boolean }): Promise<InvocationView[]> {
      let query = db
        .selectFrom('breakglass_invocations')
        .selectAll()
        .orderBy('invoked_at', 'desc')
        .limit(200);
      if (!isStaff(actor)) query = query.where('holder', '=', actor.userId);
      if (q.live) query = query.where('handled_at', 'is', null);
      const rows = await query.execute();
      return Promise.all(rows.map(toView));
    },
    async get(requestId: string): Promise<InvocationView | null> {
      const row = await db
        .selectFrom('breakglass_invocations')
        .selectAll()
        .where('request_id', '=', requestId)
        .executeTakeFirst();
      return row ? toView(row) : null;
    },
  };
}

export type Invoker = ReturnType<typeof createInvoker>;
