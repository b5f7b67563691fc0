import type { Clock } from '../domain/clock.js';
import type { MetricSource } from '../module.js';
import type { StintDatabase } from '../store/database.js';
import { sharedRead } from '../store/metric-queries.js';
import type { AuditLog } from './audit-log.js';

/**
 * The audit trail's figures: events appended (its rate is the append rate), events not yet folded into the tree,
 * the newest signed checkpoint's size and age (a checkpoint that stops getting younger while events arrive is a
 * signer that stopped), and the trail's health (0 while broken: state changes are refused).
 */
export function auditMetrics(deps: { store: StintDatabase; log: AuditLog; clock: Clock }): MetricSource[] {
  const db = deps.store.db;
  const sizes = sharedRead(async () => {
    const [head, tree] = await Promise.all([
      db.selectFrom('audit_head').select('size').where('id', '=', 1).executeTakeFirst(),
      db.selectFrom('audit_tree').select('built').where('id', '=', 1).executeTakeFirst(),
    ]);
    return { size: Number(head?.size ?? 0), built: Number(tree?.built ?? 0) };
  });
  const latest = sharedRead(() => deps.log.latestCheckpoint());
  return [
    {
      name: 'stint_audit_events_total',
      help: 'Audit events appended to the trail (its rate is the append rate)',
      type: 'counter',
      collect: async () => [{ value: (await sizes()).size }],
    },
    {
      name: 'stint_audit_events_unbuilt',
      help: 'Audit events appended but not yet folded into the Merkle tree',
      type: 'gauge',
      async collect() {
        const { size, built } = await sizes();
        return [{ value: Math.max(0, size - built) }];
      },
    },
    {
      name: 'stint_audit_checkpoint_size',
      help: 'Events covered by the newest signed checkpoint',
      type: 'gauge',
      async collect() {
        const c = await latest();
        return c ? [{ value: c.size }] : [];
      },
    },
    {
      name: 'stint_audit_checkpoint_age_seconds',
      help: 'Seconds since the newest signed checkpoint was made (absent until one is)',
      type: 'gauge',
      async collect() {
        const c = await latest();
        return c ? [{ value: Math.max(0, (deps.clock().getTime() - c.createdAt.getTime()) / 1000) }] : [];
      },
    },
    {
      name: 'stint_audit_trail_healthy',
      help: '1 while the audit trail is signed as it grows; 0 while it is broken (state changes refused)',
      type: 'gauge',
      collect: () => [{ value: deps.log.health.status().healthy ? 1 : 0 }],
    },
    {
      name: 'stint_audit_trail_breaks_total',
      help: 'Times the audit trail went from healthy to broken since this server started',
      type: 'counter',
      collect: () => [{ value: deps.log.health.status().failures }],
    },
  ];
}
