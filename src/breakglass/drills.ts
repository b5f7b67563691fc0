import { randomBytes } from 'node:crypto';
import type { Actor } from '../domain/actor.js';
import { formatDuration } from '../domain/duration.js';
import { isStintError, StintError } from '../domain/errors.js';
import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import { NO_CANCEL } from '../providers/provider.js';
import type { AfterUse } from './after-use.js';
import type { BreakglassDeps } from './breakglass-deps.js';
import { asShared, type BgDatabase, bgDb } from './breakglass-tables.js';
import {
  DRILL_STEPS,
  type DrillState,
  type DrillStep,
  type DrillStepName,
  type DrillView,
  isStaff,
  type StartDrillInput,
} from './breakglass-types.js';
import { entryForResource, mayBreakGlass } from './entries.js';
import { ACK_ACTION } from './escalation.js';
import type { Invoker } from './invoke.js';
import { liveSeal } from './seals.js';
import { eventsAfter, seqOf, timelineOf } from './trail.js';
import type { Unseal } from './unseal.js';

const DAY_MS = 86_400_000;
/** A drill's unseal step counts an unseal of the resource's seal made within this before the drill. */
export const DRILL_UNSEAL_WINDOW_MS = DAY_MS;
/** After the officers of a resource's seal change, a drill is due within this, whatever the interval. */
export const DRILL_AFTER_OFFICER_CHANGE_MS = 30 * DAY_MS;
/** An overdue drill is alerted again this often until one passes. */
export const DRILL_ALERT_EVERY_MS = DAY_MS;
const DEFAULT_ACK_TIMEOUT_S = 120;
const MAX_ACK_TIMEOUT_S = 3600;
/** A drill still running after this was cut off by its server's end: failed by whichever server sweeps. */
export const DRILL_STALE_MS = 2 * 3_600_000;
const ACK_POLL_MS = 200;

/** The events a drill's use must have left in the trail, in any order. */
const EXPECTED = [
  'request.created',
  'request.approved',
  'breakglass.invoked',
  'grant.activated',
  'grant.revoked',
  'grant.revocation_completed',
  'breakglass.rotated',
  'postmortem.opened',
];

type DrillRow = BgDatabase['breakglass_drills'];

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/**
 * The drill: break-glass invoked for real on a target, on purpose, and every link of the procedure checked, each
 * step passing or failing on its own (`drill.step`): the seal opened recently by its officers (`unseal`), the
 * invocation granted (`invoke`), the credential live on the target (`credential`: the provider answers and finds
 * the principal), every channel's receiver acknowledged the alert (`channels`), access ended and verified gone
 * (`revoked`), the credential's rotation recorded (`rotated`), the use's events all in the trail and the trail
 * verifying end to end (`audit`). Access is always taken back, pass or fail. Ends `drill.passed`, or `drill.failed`
 * naming the first step that failed (alerting security).
 *
 * The schedule: a passing drill must exist within the entry's `drillEvery` (365 days by default), and within 30
 * days of a change of the seal's officers; the sweep alerts `drill.failed` (step `schedule`) daily until one does.
 */
export function createDrills(
  deps: BreakglassDeps,
  parts: { invoker: Invoker; afterUse: AfterUse; unseal: Pick<Unseal, 'lastOpened'> },
) {
  const db = bgDb(deps.store);
  const running = new Set<Promise<unknown>>();
  let stopping = new AbortController();

  function view(row: DrillRow): DrillView {
    return {
      id: row.id,
      resource: row.resource,
      role: row.role,
      startedBy: row.started_by,
      startedAt: new Date(row.started_at).toISOString(),
      finishedAt: row.finished_at === null ? null : new Date(row.finished_at).toISOString(),
      state: row.state as DrillState,
      steps: JSON.parse(row.steps) as DrillStep[],
      requestId: row.request_id,
    };
  }

  async function run(id: string, actor: Actor, input: StartDrillInput & { role: string }): Promise<void> {
    const steps: DrillStep[] = DRILL_STEPS.map((name) => ({ name, state: 'pending', detail: '' }));
    const signal = stopping.signal;
    const record = async (
      name: DrillStepName,
      passed: boolean | null,
      detail: string,
      requestId?: string,
    ) => {
      const step = steps.find((s) => s.name === name) as DrillStep;
      step.state = passed === null ? 'skipped' : passed ? 'passed' : 'failed';
      step.detail = detail;
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('breakglass_drills')
          .set({ steps: JSON.stringify(steps), ...(requestId ? { request_id: requestId } : {}) })
          .where('id', '=', id)
          .execute();
        await deps.audit.append(asShared(trx), {
          at: deps.clock(),
          actor: SYSTEM_ACTOR,
          action: 'drill.step',
          requestId: requestId ?? null,
          target: { resource: input.resource, role: input.role },
          details: { drillId: id, step: name, state: step.state, detail },
        });
      });
    };
    const check = async (name: DrillStepName, fn: () => Promise<string>, requestId?: string) => {
      try {
        await record(name, true, await fn(), requestId);
        return true;
      } catch (e) {
        const detail = isStintError(e) ? e.message : 'unexpected error (see server log)';
        if (!isStintError(e)) deps.logger.error({ err: e, drillId: id, step: name }, 'drill step failed');
        await record(name, false, detail, requestId);
        return false;
      }
    };
    const fail = (message: string): never => {
      throw new StintError('BAD_REQUEST', message);
    };
    const policy = deps.policy.current();
    const resource = policy.resources.get(input.resource);
    const entry = entryForResource(policy, input.resource);
    const started = deps.clock();

    await check('unseal', async () => {
      const seal = await liveSeal(db, input.resource);
      if (!seal) return fail(`no sealed secret for ${input.resource}: seal one (stint breakglass seal)`);
      const opened = await parts.unseal.lastOpened(
        seal.id,
        new Date(started.getTime() - DRILL_UNSEAL_WINDOW_MS),
      );
      if (!opened) {
        return fail(
          `seal ${seal.id} was not opened in the last ${formatDuration(DRILL_UNSEAL_WINDOW_MS / 1000)}: have ${seal.threshold} officers run \`stint breakglass unseal open ${input.resource} --drill\``,
        );
      }
      return `seal ${seal.id} opened by its officers (${opened.id}, ${opened.purpose})`;
    });

    let requestId: string | undefined;
    let principal: string | undefined;
    let invokedSeq = -1;
    const invokedOk = await check('invoke', async () => {
      const made = await parts.invoker.invoke(
        actor,
        {
          resource: input.resource,
          role: input.role,
          reason: `drill ${id}: ${input.reason ?? 'scheduled break-glass drill'}`,
        },
        { drillId: id },
      );
      requestId = made.requestId;
      invokedSeq = made.invokedSeq;
      principal = (await deps.grants.get(deps.store.db, made.requestId))?.principal;
      if (made.request.state !== 'active' || !principal) {
        return fail(
          `break-glass did not become active (${made.request.state}): ${made.request.endReason ?? 'no grant'}`,
        );
      }
      return `${made.requestId} active until ${made.request.expiresAt}`;
    });
    if (!invokedOk || !requestId || !resource || !entry) {
      for (const name of ['credential', 'channels', 'revoked', 'rotated', 'audit'] as const) {
        await record(name, null, 'skipped: break-glass was not granted', requestId);
      }
    } else {
      const rid = requestId;
      const who = principal as string;
      const provider = deps.providers.get(resource);
      await check(
        'credential',
        async () => {
          const target = await provider.ping({}, NO_CANCEL);
          const present = await provider.verifyRevoked({ principal: who }, NO_CANCEL);
          if (present.gone) return fail(`${who} is not on ${input.resource}: the credential would not work`);
          return `${who} live on ${target.target}`;
        },
        rid,
      );
      await check(
        'channels',
        async () => {
          const deadline = Date.now() + (input.ackTimeoutSeconds ?? DEFAULT_ACK_TIMEOUT_S) * 1000;
          let missing = [...entry.channels];
          for (;;) {
            const acks = await eventsAfter(deps.store.db, invokedSeq, [ACK_ACTION]);
            const acked = new Set(
              acks.filter((a) => a.details.eventSeq === invokedSeq).map((a) => String(a.details.channel)),
            );
            missing = entry.channels.filter((c) => !acked.has(c));
            if (missing.length === 0 || Date.now() >= deadline || signal.aborted) break;
            await sleep(ACK_POLL_MS, signal);
          }
          if (missing.length > 0) return fail(`no acknowledgement from ${missing.join(', ')}`);
          return `acknowledged on ${entry.channels.join(', ')}`;
        },
        rid,
      );
      await check(
        'revoked',
        async () => {
          await deps.revokeRequest(actor, rid, `drill ${id}: access ends`);
          const grant = await deps.grants.get(deps.store.db, rid);
          if (grant?.revocation !== 'done') {
            return fail(
              `the revocation is ${grant?.revocation ?? 'missing'}: ${grant?.revoke_error ?? ''}`.trim(),
            );
          }
          if (!(await provider.verifyRevoked({ principal: who }, NO_CANCEL)).gone) {
            return fail(`${who} is still on ${input.resource} after revocation`);
          }
          return `${who} gone from ${input.resource}`;
        },
        rid,
      );
      await check(
        'rotated',
        async () => {
          await parts.afterUse.handleOne(rid);
          if ((await seqOf(deps.store.db, rid, 'breakglass.rotated')) === null) {
            return fail('no rotation recorded for the drill’s credential');
          }
          return 'the drill’s credential was removed and will not be issued again';
        },
        rid,
      );
      await check(
        'audit',
        async () => {
          const seen = new Set((await timelineOf(deps.store.db, rid)).map((e) => e.action));
          const missing = EXPECTED.filter((a) => !seen.has(a));
          if (missing.length > 0) return fail(`the trail lacks ${missing.join(', ')}`);
          const verified = await deps.verifyAudit();
          if (!verified.ok) return fail(`the trail does not verify: ${verified.detail}`);
          return `every event recorded; ${verified.detail}`;
        },
        rid,
      );
      // Whatever failed above, the drill's access does not outlive it.
      const left = await deps.requests.get(deps.store.db, rid);
      if (left && (left.state === 'active' || left.state === 'approved')) {
        await deps.revokeRequest(actor, rid, `drill ${id}: cleaning up`).catch(() => {});
      }
    }

    const failed = steps.find((s) => s.state !== 'passed');
    const now = deps.clock();
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('breakglass_drills')
        .set({
          state: failed ? 'failed' : 'passed',
          finished_at: now.getTime(),
          steps: JSON.stringify(steps),
        })
        .where('id', '=', id)
        .execute();
      await deps.audit.append(asShared(trx), {
        at: now,
        actor: SYSTEM_ACTOR,
        action: failed ? 'drill.failed' : 'drill.passed',
        requestId: requestId ?? null,
        target: { resource: input.resource, role: input.role },
        details: failed
          ? {
              drillId: id,
              resource: input.resource,
              step: failed.name,
              detail: failed.detail,
              alert: true,
              notify: ['security'],
            }
          : { drillId: id, resource: input.resource, steps: steps.length },
      });
    });
  }

  async function failInterrupted(now: Date): Promise<number> {
    const stale = await db
      .selectFrom('breakglass_drills')
      .selectAll()
      .where('state', '=', 'running')
      .where('started_at', '<', now.getTime() - DRILL_STALE_MS)
      .execute();
    let n = 0;
    for (const row of stale) {
      const steps = JSON.parse(row.steps) as DrillStep[];
      const cut = steps.find((s) => s.state === 'pending');
      for (const s of steps) {
        if (s.state === 'pending')
          Object.assign(s, { state: 'failed', detail: 'interrupted: its server stopped' });
      }
      await db.transaction().execute(async (trx) => {
        const res = await trx
          .updateTable('breakglass_drills')
          .set({ state: 'failed', finished_at: now.getTime(), steps: JSON.stringify(steps) })
          .where('id', '=', row.id)
          .where('state', '=', 'running')
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) return;
        await deps.audit.append(asShared(trx), {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'drill.failed',
          requestId: row.request_id,
          target: { resource: row.resource, role: row.role },
          details: {
            drillId: row.id,
            resource: row.resource,
            step: cut?.name ?? 'audit',
            detail: 'interrupted: its server stopped before it finished',
            alert: true,
            notify: ['security'],
          },
        });
        n += 1;
      });
    }
    return n;
  }

  return {
    async start(actor: Actor, input: StartDrillInput): Promise<DrillView> {
      const policy = deps.policy.current();
      const resource = policy.resources.get(input.resource);
      if (!resource) throw new StintError('UNKNOWN_RESOURCE', `unknown resource "${input.resource}"`);
      const entry = entryForResource(policy, input.resource);
      if (!entry || !mayBreakGlass(entry, policy.users.get(actor.userId))) {
        throw new StintError(
          'NOT_ELIGIBLE',
          `${actor.userId} may not break glass on ${input.resource}, so may not drill it`,
          { ruleId: entry?.id ?? 'breakglass' },
        );
      }
      const role =
        input.role ?? (entry.roles.includes('*') ? Object.keys(resource.roles)[0] : entry.roles[0]) ?? '';
      if (!Object.hasOwn(resource.roles, role)) {
        throw new StintError('UNKNOWN_ROLE', `resource "${input.resource}" has no role "${role}"`);
      }
      if ((input.ackTimeoutSeconds ?? 0) > MAX_ACK_TIMEOUT_S) {
        throw new StintError('BAD_REQUEST', 'a drill waits at most 1h for acknowledgements');
      }
      await deps.stepUp.require(actor, 'running a break-glass drill');
      const now = deps.clock();
      const id = `drill_${randomBytes(8).toString('hex')}`;
      const row: DrillRow = {
        id,
        resource: input.resource,
        role,
        started_by: actor.userId,
        started_at: now.getTime(),
        finished_at: null,
        state: 'running',
        steps: JSON.stringify(DRILL_STEPS.map((name) => ({ name, state: 'pending', detail: '' }))),
        request_id: null,
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('breakglass_drills').values(row).execute();
        await deps.audit.append(asShared(trx), {
          at: now,
          actor: actor.userId,
          action: 'drill.started',
          requestId: null,
          target: { resource: input.resource, role },
          details: { drillId: id, resource: input.resource, role, channels: entry.channels },
          ...(actor.source ? { source: actor.source } : {}),
        });
      });
      const p = run(id, actor, { ...input, role })
        .catch((err: unknown) => deps.logger.error({ err, drillId: id }, 'drill stopped by an error'))
        .finally(() => running.delete(p));
      running.add(p);
      return view(row);
    },

    async get(actor: Actor, id: string): Promise<DrillView> {
      const row = await db
        .selectFrom('breakglass_drills')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row || !(isStaff(actor) || row.started_by === actor.userId)) {
        throw new StintError('NOT_FOUND', `drill ${id} not found`);
      }
      return view(row);
    },

    async list(actor: Actor): Promise<DrillView[]> {
      let q = db.selectFrom('breakglass_drills').selectAll().orderBy('started_at', 'desc').limit(200);
      if (!isStaff(actor)) q = q.where('started_by', '=', actor.userId);
      return (await q.execute()).map(view);
    },

    /** Resolves once every drill started here has finished. */
    async idle(): Promise<void> {
      await Promise.allSettled([...running]);
    },

    job: {
      async start() {
        stopping = new AbortController();
      },
      async stop() {
        // A drill waiting for acknowledgements stops waiting (that step fails) and still takes its access back.
        stopping.abort();
        await Promise.allSettled([...running]);
      },
    },

    /**
     * Fails drills whose server stopped under them, then alerts each resource whose last passing drill is older
     * than its interval (or than its officers' change).
     */
    async sweep(signal: AbortSignal): Promise<number> {
      const now = deps.clock();
      let alerted = await failInterrupted(now);
      for (const entry of deps.policy.current().breakglass ?? []) {
        for (const resource of entry.resources) {
          if (signal.aborted) return alerted;
          await db
            .insertInto('breakglass_drill_schedule')
            .values({ resource, since: now.getTime(), officers_changed_at: null, last_alert_at: null })
            .onConflict((oc) => oc.column('resource').doNothing())
            .execute();
          const schedule = await db
            .selectFrom('breakglass_drill_schedule')
            .selectAll()
            .where('resource', '=', resource)
            .executeTakeFirstOrThrow();
          const passed = await db
            .selectFrom('breakglass_drills')
            .select((eb) => eb.fn.max('finished_at').as('at'))
            .where('resource', '=', resource)
            .where('state', '=', 'passed')
            .executeTakeFirst();
          const lastPassed = passed?.at == null ? null : Number(passed.at);
          let dueAt = (lastPassed ?? schedule.since) + entry.drillEverySeconds * 1000;
          const changed = schedule.officers_changed_at;
          if (changed !== null && (lastPassed === null || changed > lastPassed)) {
            dueAt = Math.min(dueAt, changed + DRILL_AFTER_OFFICER_CHANGE_MS);
          }
          if (now.getTime() < dueAt) continue;
          const last = schedule.last_alert_at;
          if (last !== null && last >= dueAt && now.getTime() - last < DRILL_ALERT_EVERY_MS) continue;
          const sent = await db.transaction().execute(async (trx) => {
            const claimed = await trx
              .updateTable('breakglass_drill_schedule')
              .set({ last_alert_at: now.getTime() })
              .where('resource', '=', resource)
              .where('last_alert_at', last === null ? 'is' : '=', last)
              .executeTakeFirst();
            if (Number(claimed.numUpdatedRows) !== 1) return false;
            await deps.audit.append(asShared(trx), {
              at: now,
              actor: SYSTEM_ACTOR,
              action: 'drill.failed',
              requestId: null,
              target: { resource },
              details: {
                drillId: null,
                resource,
                step: 'schedule',
                detail:
                  lastPassed === null
                    ? `no passing drill of ${resource} yet; one was due ${new Date(dueAt).toISOString()}`
                    : `the last passing drill of ${resource} was ${new Date(lastPassed).toISOString()}`,
                dueAt: new Date(dueAt).toISOString(),
                lastGoodDrillAt: lastPassed === null ? null : new Date(lastPassed).toISOString(),
                alert: true,
                notify: ['security'],
              },
            });
            return true;
          });
          if (sent) alerted += 1;
        }
      }
      return alerted;
    },
  };
}

export type Drills = ReturnType<typeof createDrills>;
