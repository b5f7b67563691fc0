import type { StintModule } from '../module.js';
import { createAfterUse } from './after-use.js';
import type { BreakglassDeps } from './breakglass-deps.js';
import { BREAKGLASS_ROUTE_ACCESS, breakglassRoutes } from './breakglass-routes.js';
import { bgDb } from './breakglass-tables.js';
import { createDrills } from './drills.js';
import { createEscalation } from './escalation.js';
import { createInvoker } from './invoke.js';
import { createOfflineRecords } from './offline-records.js';
import { createPostmortems } from './postmortems.js';
import { createSeals } from './seals.js';
import { createUnseal } from './unseal.js';

/**
 * Break-glass (issue 24): emergency access that skips approval and is never unseen, a sealed secret for when the
 * normal path is down, a postmortem after every use, and drills that prove the procedure works. It talks to the
 * notifier only through the audit trail: it writes the alerts (`breakglass.invoked`, `breakglass.escalated`,
 * `postmortem.*`, `drill.*`) and reads acknowledgements (`notification.acknowledged`). See docs/breakglass.md.
 */
export function createBreakglassModule(deps: BreakglassDeps) {
  const invoker = createInvoker(deps);
  const afterUse = createAfterUse(deps);
  const escalation = createEscalation(deps);
  const postmortems = createPostmortems(deps);
  const seals = createSeals(deps);
  const unseal = createUnseal(deps);
  const offline = createOfflineRecords(deps);
  const drills = createDrills(deps, { invoker, afterUse, unseal });
  const db = bgDb(deps.store);
  let escalated = 0;

  const module: StintModule = {
    name: 'breakglass',
    jobs: [
      drills.job,
      {
        // Offline unseals made while Stint was down are alerted as soon as it is back.
        async start() {
          await offline
            .ingest()
            .catch((err: unknown) =>
              deps.logger.error({ err }, 'reading offline break-glass records at start failed'),
            );
        },
        async stop() {},
      },
    ],
    sweeps: [
      {
        name: 'breakglass.escalate',
        everyMs: 5_000,
        run: async (signal) => {
          escalated += await escalation.sweep(signal);
        },
      },
      { name: 'breakglass.after-use', everyMs: 2_000, run: (signal) => afterUse.sweep(signal) },
      { name: 'breakglass.unseals', everyMs: 10_000, run: (signal) => unseal.sweep(signal) },
      { name: 'breakglass.postmortems', everyMs: 60_000, run: (signal) => postmortems.sweep(signal) },
      { name: 'breakglass.drills', everyMs: 60_000, run: (signal) => drills.sweep(signal) },
      { name: 'breakglass.offline-records', everyMs: 60_000, run: (signal) => offline.ingest(signal) },
    ],
    routes: [
      {
        plugin: breakglassRoutes({ invoker, seals, unseal, postmortems, drills }),
        access: BREAKGLASS_ROUTE_ACCESS,
      },
    ],
    // A sealed secret that was opened is no longer secret: named until someone re-seals a rotated one.
    degraded: [
      async () => {
        const due = await seals.needingRotation();
        if (due.length === 0) return null;
        return {
          check: 'breakglass.rotation',
          message: `sealed break-glass secret(s) of ${due.map((s) => s.scope).join(', ')} were opened: rotate the secret and re-seal (stint breakglass seal)`,
          count: due.length,
          requests: [],
        };
      },
    ],
    metrics: [
      {
        name: 'stint_breakglass_holders',
        help: 'Resources someone holds break-glass on now',
        type: 'gauge',
        collect: async () => {
          const rows = await db.selectFrom('breakglass_holders').select('resource').execute();
          return [{ value: rows.length }];
        },
      },
      {
        name: 'stint_breakglass_postmortems_overdue',
        help: 'Break-glass postmortems open past their due date',
        type: 'gauge',
        collect: async () => {
          const rows = await db
            .selectFrom('breakglass_postmortems')
            .select('id')
            .where('state', '=', 'open')
            .where('due_at', '<=', deps.clock().getTime())
            .execute();
          return [{ value: rows.length }];
        },
      },
      {
        name: 'stint_breakglass_escalations_total',
        help: 'Break-glass alerts escalated for want of an acknowledgement (by this server)',
        type: 'counter',
        collect: () => [{ value: escalated }],
      },
    ],
  };

  return { invoker, afterUse, escalation, postmortems, seals, unseal, offline, drills, module };
}

export type BreakglassModule = ReturnType<typeof createBreakglassModule>;
