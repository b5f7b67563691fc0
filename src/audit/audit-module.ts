import type { Logger } from '../logger.js';
import type { Job, ReadinessCheck, StintModule } from '../module.js';
import type { StintDatabase } from '../store/database.js';
import type { RequestStore } from '../store/request-store.js';
import { createAuditEvents } from './audit-events.js';
import { createAuditLog } from './audit-log.js';
import { auditMetrics } from './audit-metrics.js';
import { createAuditPurge } from './audit-purge.js';
import { recordedRetention, recordRetention } from './audit-retention.js';
import { createAuditService } from './audit-service.js';
import { createAuditWriter } from './audit-writer.js';
import { leafMacKeys } from './log/leaf-mac.js';
import type { Ed25519NoteSigner } from './log/signed-note.js';
import type { PurgeHold } from './purge-holds.js';
import { requireRollbackAnchor } from './rollback-guard.js';
import { AUDIT_EVENT_ROUTE_ACCESS, auditRoutes } from './routes/audit-event-routes.js';
import { AUDIT_LOG_ROUTE_ACCESS, auditLogRoutes } from './routes/audit-log-routes.js';
import { isAuditTrailBroken } from './trail-health.js';
import { checkTrailAtStart } from './trail-start.js';
import type { WitnessConfig } from './witness/witness-config.js';
import { createWitnessSubmitter } from './witness/witness-submitter.js';

export interface AuditOptions {
  /** Checkpoint signing keys (C2SP skeys); their common name is the log's origin. */
  signers: readonly Ed25519NoteSigner[];
  checkpointDir: string | null;
  checkpointIntervalMs?: number;
  /** Events older than this lose their body (their leaf hash stays). */
  retentionDays?: number;
  /** What keeps events from being purged whatever their age (open session reviews, break-glass uses …). */
  purgeHolds?: readonly PurgeHold[];
  /** External C2SP tlog-witnesses each new checkpoint is submitted to (STINT_AUDIT_WITNESSES). */
  witnesses?: readonly WitnessConfig[];
  /**
   * Start even when the store has signed checkpoints but neither the WORM folder nor a witness can show a
   * rollback (STINT_AUDIT_ACCEPT_ROLLBACK_RISK). Off: such a start is refused.
   */
  acceptRollbackRisk?: boolean;
}

export interface AuditModuleDeps extends AuditOptions {
  store: StintDatabase;
  /** Who may read a request's history is decided on the request. */
  requests: Pick<RequestStore, 'get'>;
  clock: () => Date;
  logger: Logger;
}

/** The log's origin line is its signing keys' name: C2SP witnesses look a log's key up by its origin. */
export function auditOrigin(signers: readonly Ed25519NoteSigner[]): string {
  const names = new Set(signers.map((s) => s.name));
  const [origin] = names;
  if (names.size !== 1 || origin === undefined) {
    throw new Error(
      'audit signing keys: configure at least one, and all with the same name (the log origin)',
    );
  }
  return origin;
}

/**
 * The audit trail: the writer every state change appends through, the Merkle log and its signed checkpoints,
 * witnesses, retention, and the read side (events, proofs, verification). Its job builds the tree and signs
 * checkpoints; it is ready only while the trail can be signed (fail closed).
 */
export function createAuditModule(deps: AuditModuleDeps) {
  const { store, logger } = deps;
  const origin = auditOrigin(deps.signers);
  const checkpointIntervalMs = deps.checkpointIntervalMs ?? 1000;
  // The writer holds the leaf MAC keys (derived from the signing keys): only it can extend this trail.
  const writer = createAuditWriter(leafMacKeys(deps.signers));
  const log = createAuditLog({
    store,
    clock: deps.clock,
    logger,
    origin,
    signers: deps.signers,
    checkpointDir: deps.checkpointDir,
    checkpointIntervalMs,
  });
  const witnesses = createWitnessSubmitter({
    db: store.db,
    logger,
    witnesses: deps.witnesses ?? [],
    consistencyProof: log.consistencyProof,
  });
  const service = createAuditService({
    store,
    log,
    origin,
    signers: deps.signers,
    checkpointDir: deps.checkpointDir,
    cosigned: witnesses.withCosignatures,
    refusals: witnesses.refusals,
  });
  const retentionDays = deps.retentionDays ?? 730;
  const purge = createAuditPurge({
    store,
    writer,
    clock: deps.clock,
    retentionDays,
    ...(deps.purgeHolds ? { holds: deps.purgeHolds } : {}),
  });

  const intervals: NodeJS.Timeout[] = [];
  let building: Promise<unknown> | null = null;

  const buildOnce = (): Promise<unknown> => {
    // During a store outage the build would only fail, once per tick: it waits for the store's return.
    if (!store.health.available()) return Promise.resolve();
    building ??= log
      .build()
      .then((latest) => (latest && deps.witnesses?.length ? witnesses.submit(latest) : null))
      // A broken trail is alerted once by its health, not on every turn.
      .catch((err: unknown) => {
        if (!isAuditTrailBroken(err)) logger.error({ err }, 'audit tree build failed');
      })
      .finally(() => {
        building = null;
      });
    return building;
  };

  const job: Job = {
    /** Refuses to start on a store rolled back or forked (see checkTrailAtStart), then keeps signing. */
    async start() {
      await requireRollbackAnchor({
        db: store.db,
        checkpointDir: deps.checkpointDir,
        witnesses: deps.witnesses?.length ?? 0,
        acceptRollbackRisk: deps.acceptRollbackRisk ?? false,
      });
      await checkTrailAtStart(log);
      // A changed retention is in the trail from the moment it is in force (the first purge records it too).
      const recorded = await recordedRetention(store.db);
      if (log.health.status().healthy && recorded !== null && recorded !== retentionDays) {
        await recordRetention(writer, store.db, deps.clock(), retentionDays);
      }
      intervals.push(setInterval(() => void buildOnce(), Math.min(250, checkpointIntervalMs)));
      intervals.push(
        setInterval(
          () =>
            void purge()
              // Sign the purge event at once: verifiers accept a blanked body only under a signed purge.
              .then((r) => (r.purged > 0 ? log.build({ checkpoint: true }) : null))
              .catch((err: unknown) => logger.error({ err }, 'audit purge failed')),
          3_600_000,
        ),
      );
      for (const i of intervals) i.unref();
    },
    async stop() {
      for (const i of intervals.splice(0)) clearInterval(i);
      await building;
    },
  };
  const events = createAuditEvents({ store, requests: deps.requests });
  // Not ready while the audit trail cannot be signed (rolled back, forked, rows missing).
  const ready: ReadinessCheck = () => log.health.assertWritable();

  return {
    /** What state changes append their events through, in their own transaction. */
    writer,
    log,
    /** The audit trail's health: while broken, not ready and state changes refused (fail closed). */
    trail: log.health,
    service,
    events,
    witnesses,
    purge,
    module: {
      name: 'audit',
      jobs: [job],
      ready: [ready],
      metrics: auditMetrics({ store, log, clock: deps.clock }),
      routes: [
        { plugin: auditRoutes(events), access: AUDIT_EVENT_ROUTE_ACCESS },
        { plugin: auditLogRoutes(service), access: AUDIT_LOG_ROUTE_ACCESS },
      ],
    } satisfies StintModule,
  };
}

export type AuditModule = ReturnType<typeof createAuditModule>;
