import { randomBytes } from 'node:crypto';
import type { AuditWriter } from '../audit/audit-writer.js';
import { authorize } from '../auth/authorize.js';
import type { Actor } from '../domain/actor.js';
import type { Clock } from '../domain/clock.js';
import { StintError } from '../domain/errors.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { Resource } from '../policy/policy-types.js';
import { standingInventory } from '../providers/kind.js';
import { NO_CANCEL } from '../providers/provider.js';
import type { ProviderSet } from '../providers/provider-set.js';
import type { StintDatabase } from '../store/database.js';
import { asShared, type ConversionState, type ConversionTables, conversionDb } from './conversion-tables.js';
import { collectInventory, entitlementsOf, standingOn } from './inventory.js';
import { parseQuarter } from './quarter.js';

type Row = ConversionTables['conversions'];

export interface ConversionView {
  id: string;
  quarter: string;
  resource: string;
  kind: string;
  principal: string;
  privilege: string;
  jitRole: string;
  state: ConversionState;
  plannedBy: string;
  plannedAt: string;
  entitledAt: string | null;
  rules: string[];
  removedAt: string | null;
  endedAt: string | null;
  note: string | null;
}

export interface PlanInput {
  resource: string;
  principal: string;
  privilege: string;
  jitRole: string;
  quarter: string;
  note?: string;
}

export interface ConversionReport {
  quarter: string;
  planned: number;
  done: number;
  abandoned: number;
  left: number;
  byState: Record<ConversionState, number>;
  /** What standing privilege the quarter's plan still leaves on its targets. */
  remaining: {
    id: string;
    resource: string;
    principal: string;
    privilege: string;
    jitRole: string;
    state: ConversionState;
  }[];
}

export interface ConversionDeps {
  store: StintDatabase;
  audit: AuditWriter;
  policy: PolicySource;
  providers: ProviderSet;
  clock: Clock;
}

/** Who may change what is standing on a target: security and admins (auditors only read). */
function mayConvert(actor: Actor): void {
  if (actor.security || actor.admin) return;
  throw new StintError('FORBIDDEN', `${actor.userId} may not convert standing access`);
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

function view(r: Row): ConversionView {
  return {
    id: r.id,
    quarter: r.quarter,
    resource: r.resource,
    kind: r.kind,
    principal: r.principal,
    privilege: r.privilege,
    jitRole: r.jit_role,
    state: r.state,
    plannedBy: r.planned_by,
    plannedAt: iso(r.planned_at) as string,
    entitledAt: iso(r.entitled_at),
    rules: r.rule_ids ? (JSON.parse(r.rule_ids) as string[]) : [],
    removedAt: iso(r.removed_at),
    endedAt: iso(r.ended_at),
    note: r.note,
  };
}

/** The step each step must follow: nothing is skipped, and nothing is done twice. */
const FROM: Record<'entitled' | 'removed' | 'done', ConversionState> = {
  entitled: 'planned',
  removed: 'entitled',
  done: 'removed',
};

/**
 * The quarterly conversion of standing access to just-in-time entitlements: plan (a standing grant the inventory
 * lists), entitled (the policy, which Stint does not write, now has the JIT role with a rule), removed (Stint takes
 * the standing grant away on the target and re-lists to see it gone), done. Every step is one row update and its
 * audit event in one transaction; a step out of order changes nothing.
 */
export function createConversionService(deps: ConversionDeps) {
  const db = conversionDb(deps.store);

  const resourceOf = (id: string): Resource => {
    const resource = deps.policy.current().resources.get(id);
    if (!resource) throw new StintError('UNKNOWN_RESOURCE', `resource ${id} is not in the policy`);
    return resource;
  };

  async function get(id: string): Promise<Row> {
    const row = await db.selectFrom('conversions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new StintError('NOT_FOUND', `conversion ${id} not found`);
    return row;
  }

  /** Moves `id` from the step before `to` into `to`, writing `event`; refuses any other starting step. */
  async function step(
    actor: Actor,
    id: string,
    to: ConversionState,
    from: readonly ConversionState[],
    set: Partial<Row>,
    event: string,
    details: Record<string, unknown> = {},
  ): Promise<ConversionView> {
    const now = deps.clock();
    const before = await get(id);
    const refuse = (state: ConversionState) =>
      new StintError(
        'INVALID_TRANSITION',
        `conversion ${id} is ${state}: it can become ${to} only from ${from.join(' or ')}`,
      );
    if (!from.includes(before.state)) throw refuse(before.state);
    await db.transaction().execute(async (trx) => {
      const done = await trx
        .updateTable('conversions')
        .set(set)
        .where('id', '=', id)
        .where('state', '=', before.state)
        .executeTakeFirst();
      if (Number(done.numUpdatedRows) !== 1) throw refuse((await get(id)).state);
      await deps.audit.append(asShared(trx), {
        at: now,
        actor: actor.userId,
        action: event,
        requestId: null,
        target: { resource: before.resource, role: before.jit_role, principal: before.principal },
        details: { conversion: id, quarter: before.quarter, privilege: before.privilege, ...details },
        ...(actor.source ? { source: actor.source } : {}),
      });
    });
    return view(await get(id));
  }

  return {
    async inventory(actor: Actor) {
      authorize(actor, 'report.read');
      return collectInventory(deps.policy.current(), deps.providers);
    },

    async list(actor: Actor, quarter?: string): Promise<ConversionView[]> {
      authorize(actor, 'report.read');
      let q = db.selectFrom('conversions').selectAll().orderBy('planned_at').orderBy('id');
      if (quarter) q = q.where('quarter', '=', parseQuarter(quarter));
      return (await q.execute()).map(view);
    },

    async show(actor: Actor, id: string): Promise<ConversionView> {
      authorize(actor, 'report.read');
      return view(await get(id));
    },

    /** A standing grant the target lists now, to be converted within `quarter`. */
    async plan(actor: Actor, input: PlanInput): Promise<ConversionView> {
      mayConvert(actor);
      const quarter = parseQuarter(input.quarter);
      const resource = resourceOf(input.resource);
      if (standingInventory(deps.providers.capabilities(resource)).lists !== 'standing') {
        throw new StintError(
          'VALIDATION_FAILED',
          `${resource.kind} targets list no standing access to convert`,
        );
      }
      const standing = await standingOn(deps.providers, resource);
      const held = standing.find((p) => p.principal === input.principal);
      if (!held) {
        throw new StintError(
          'VALIDATION_FAILED',
          `${input.principal} holds no standing privilege on ${resource.id} (see GET /v1/inventory)`,
        );
      }
      if (!held.privileges.includes(input.privilege)) {
        throw new StintError(
          'VALIDATION_FAILED',
          `${input.principal} does not hold "${input.privilege}" on ${resource.id}; it holds: ${held.privileges.join('; ')}`,
        );
      }
      const id = `conv_${randomBytes(8).toString('hex')}`;
      const now = deps.clock();
      const openKey = JSON.stringify([resource.id, input.principal, input.privilege]);
      await db.transaction().execute(async (trx) => {
        const open = await trx
          .selectFrom('conversions')
          .select(['id'])
          .where('open_key', '=', openKey)
          .executeTakeFirst();
        if (open) {
          throw new StintError(
            'CONCURRENT_UPDATE',
            `conversion ${open.id} already converts this standing grant`,
          );
        }
        await trx
          .insertInto('conversions')
          .values({
            id,
            quarter,
            resource: resource.id,
            kind: resource.kind,
            principal: input.principal,
            privilege: input.privilege,
            jit_role: input.jitRole,
            state: 'planned',
            open_key: openKey,
            planned_by: actor.userId,
            planned_at: now.getTime(),
            entitled_at: null,
            rule_ids: null,
            removed_at: null,
            ended_at: null,
            note: input.note ?? null,
          })
          .execute();
        await deps.audit.append(asShared(trx), {
          at: now,
          actor: actor.userId,
          action: 'conversion.planned',
          requestId: null,
          target: { resource: resource.id, role: input.jitRole, principal: input.principal },
          details: { conversion: id, quarter, privilege: input.privilege, reason: held.reason },
          ...(actor.source ? { source: actor.source } : {}),
        });
      });
      return view(await get(id));
    },

    /** The policy now defines the JIT role on the resource, with a rule to ask for it: verified, not written. */
    async entitled(actor: Actor, id: string): Promise<ConversionView> {
      mayConvert(actor);
      const row = await get(id);
      if (row.state !== FROM.entitled) {
        throw new StintError(
          'INVALID_TRANSITION',
          `conversion ${id} is ${row.state}: it can become entitled only from planned`,
        );
      }
      const policy = deps.policy.current();
      const resource = resourceOf(row.resource);
      const entitlement = entitlementsOf(policy, resource).find((e) => e.role === row.jit_role);
      if (!entitlement) {
        throw new StintError(
          'UNKNOWN_ROLE',
          `the loaded policy has no role ${row.jit_role} on ${row.resource}: add it (and a rule) and reload first`,
        );
      }
      if (entitlement.rules.length === 0) {
        throw new StintError(
          'VALIDATION_FAILED',
          `no rule of the loaded policy lets anyone ask for ${row.resource}/${row.jit_role}: add one and reload first`,
        );
      }
      return step(
        actor,
        id,
        'entitled',
        [FROM.entitled],
        {
          state: 'entitled',
          entitled_at: deps.clock().getTime(),
          rule_ids: JSON.stringify(entitlement.rules),
        },
        'conversion.entitled',
        { rules: entitlement.rules, grants: entitlement.grants, policyVersion: policy.version },
      );
    },

    /**
     * Takes the standing grant away on the target, then re-lists: the step is recorded only once the principal is
     * seen without it. A refusal or failure changes nothing in the store.
     */
    async removed(actor: Actor, id: string): Promise<ConversionView> {
      mayConvert(actor);
      const row = await get(id);
      if (row.state !== FROM.removed) {
        throw new StintError(
          'INVALID_TRANSITION',
          `conversion ${id} is ${row.state}: it can become removed only from entitled`,
        );
      }
      const resource = resourceOf(row.resource);
      const provider = deps.providers.get(resource);
      if (!provider.removeStanding) {
        throw new StintError(
          'PROVIDER_ERROR',
          `${resource.kind} targets cannot have standing grants removed by Stint`,
          {
            resource: resource.id,
            class: 'refused',
          },
        );
      }
      await provider.removeStanding({ principal: row.principal, privilege: row.privilege }, NO_CANCEL);
      const after = await standingOn(deps.providers, resource);
      const still =
        after.find((p) => p.principal === row.principal)?.privileges.includes(row.privilege) ?? false;
      if (still) {
        throw new StintError(
          'PROVIDER_ERROR',
          `${row.principal} still holds "${row.privilege}" on ${resource.id} after the revoke (through another role?)`,
          { resource: resource.id, class: 'refused' },
        );
      }
      return step(
        actor,
        id,
        'removed',
        [FROM.removed],
        { state: 'removed', removed_at: deps.clock().getTime() },
        'conversion.standing_removed',
        { verified: true },
      );
    },

    async done(actor: Actor, id: string): Promise<ConversionView> {
      mayConvert(actor);
      return step(
        actor,
        id,
        'done',
        [FROM.done],
        { state: 'done', ended_at: deps.clock().getTime(), open_key: null },
        'conversion.completed',
      );
    },

    async abandon(actor: Actor, id: string, reason: string): Promise<ConversionView> {
      mayConvert(actor);
      return step(
        actor,
        id,
        'abandoned',
        ['planned', 'entitled', 'removed'],
        { state: 'abandoned', ended_at: deps.clock().getTime(), open_key: null, note: reason },
        'conversion.abandoned',
        { reason },
      );
    },

    /** The quarter's progress: how many were planned, done, abandoned, and which standing grants are left. */
    async report(actor: Actor, quarter: string): Promise<ConversionReport> {
      authorize(actor, 'report.read');
      const q = parseQuarter(quarter);
      const rows = await db
        .selectFrom('conversions')
        .selectAll()
        .where('quarter', '=', q)
        .orderBy('planned_at')
        .execute();
      const byState = { planned: 0, entitled: 0, removed: 0, done: 0, abandoned: 0 } as Record<
        ConversionState,
        number
      >;
      for (const r of rows) byState[r.state] += 1;
      // Removed but not yet closed counts as left: the conversion is done when someone says so.
      const open = rows.filter((r) => r.state !== 'done' && r.state !== 'abandoned');
      return {
        quarter: q,
        planned: rows.length,
        done: byState.done,
        abandoned: byState.abandoned,
        left: open.length,
        byState,
        remaining: open
          .filter((r) => r.state !== 'removed')
          .map((r) => ({
            id: r.id,
            resource: r.resource,
            principal: r.principal,
            privilege: r.privilege,
            jitRole: r.jit_role,
            state: r.state,
          })),
      };
    },
  };
}

export type ConversionService = ReturnType<typeof createConversionService>;
