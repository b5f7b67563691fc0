import { createAuditLog } from '../audit/audit-log.js';
import { createAuditPurge } from '../audit/audit-purge.js';
import { createAuditService } from '../audit/audit-service.js';
import { appendAudit } from '../audit/audit-store.js';
import type { Ed25519NoteSigner } from '../audit/log/signed-note.js';
import { isAuditTrailBroken } from '../audit/trail-health.js';
import { checkTrailAtStart } from '../audit/trail-start.js';
import type { WitnessConfig } from '../audit/witness/witness-config.js';
import { createWitnessSubmitter } from '../audit/witness/witness-submitter.js';
import { createTokenStore } from '../auth/token-store.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { createIssuer } from '../grants/issuer.js';
import { createRevoker } from '../grants/revoker.js';
import { createExpirer } from '../jobs/expirer.js';
import { createExpiryScheduler } from '../jobs/expiry-scheduler.js';
import { createReconciler } from '../jobs/reconciler.js';
import { createSweeper } from '../jobs/sweeper.js';
import type { Logger } from '../logger.js';
import { DEFAULT_MFA_MAX_AGE_SECONDS, type MfaConfig } from '../mfa/mfa-config.js';
import { createMfaService } from '../mfa/mfa-service.js';
import { createStepUp } from '../mfa/step-up.js';
import { createProviderSet, type ProviderFactory } from '../providers/provider-set.js';
import type { Clock, PolicySource, WorkflowDeps } from '../requests/context.js';
import { createRequestService } from '../requests/request-service.js';
import { createTransitionRunner } from '../requests/transition-runner.js';
import type { StintDatabase } from '../store/database.js';
import { grantStore } from '../store/grant-store.js';
import { createRequestStore } from '../store/request-store.js';

export interface AuditOptions {
  /** Checkpoint signing keys (C2SP skeys); their common name is the log's origin. */
  signers: readonly Ed25519NoteSigner[];
  checkpointDir: string | null;
  checkpointIntervalMs?: number;
  /** Events older than this lose their body (their leaf hash stays). */
  retentionDays?: number;
  /** External C2SP tlog-witnesses each new checkpoint is submitted to (STINT_AUDIT_WITNESSES). */
  witnesses?: readonly WitnessConfig[];
}

export interface StintOptions {
  audit: AuditOptions;
  /** Step-up MFA settings; defaults: 15 min, TOTP only. */
  mfa?: MfaConfig;
  store: StintDatabase;
  /** The store's own id (readStoreId after migrating): the ownership mark on everything put on a target. */
  storeId: string;
  policy: PolicySource;
  providerFactory: ProviderFactory;
  secrets: SecretBox;
  clock?: Clock;
  logger: Logger;
  /** How often durable due work is swept; timers make expiry exact in between. */
  sweepIntervalMs?: number;
  reconcileIntervalMs?: number;
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

/** The composition root: every part built once, from the parts it needs. Tests build it with other parts. */
export function createStint(opts: StintOptions) {
  const clock = opts.clock ?? (() => new Date());
  const providers = createProviderSet(opts.providerFactory, () => ({
    storeId: opts.storeId,
    deployment: opts.policy.current().settings.deployment,
  }));
  const deps: WorkflowDeps = {
    store: opts.store,
    requests: createRequestStore(opts.store.dialect),
    grants: grantStore,
    audit: { append: appendAudit },
    policy: opts.policy,
    providers,
    secrets: opts.secrets,
    clock,
    logger: opts.logger,
  };
  const run = createTransitionRunner(deps);
  const revoker = createRevoker(deps);
  const expireGrant = createExpirer(deps, run, revoker);
  const scheduler = createExpiryScheduler(clock, (id) => void expireGrant(id));
  const issue = createIssuer(
    deps,
    run,
    (id, expiresAt) => scheduler.schedule(id, expiresAt),
    () => auditLog.health.assertWritable(),
  );
  const mfaConfig = opts.mfa ?? {
    maxAgeSeconds: DEFAULT_MFA_MAX_AGE_SECONDS,
    issuer: 'Stint',
    webauthn: null,
  };
  const stepUp = createStepUp({ store: opts.store, clock, maxAgeSeconds: mfaConfig.maxAgeSeconds });
  const mfa = createMfaService({
    store: opts.store,
    secrets: opts.secrets,
    clock,
    stepUp,
    config: mfaConfig,
    logger: opts.logger,
    userExists: (id) => opts.policy.current().users.has(id),
  });
  const service = createRequestService({
    ...deps,
    run,
    issue,
    revoker,
    stepUp,
    onEnded: (id) => scheduler.cancel(id),
  });
  const sweeper = createSweeper(deps, { run, issue, expireGrant, revoker, scheduler });
  const reconcile = createReconciler(deps, revoker, run);
  const tokens = createTokenStore(opts.store.db);
  const origin = auditOrigin(opts.audit.signers);
  const auditLog = createAuditLog({
    store: opts.store,
    clock,
    logger: opts.logger,
    origin,
    signers: opts.audit.signers,
    checkpointDir: opts.audit.checkpointDir,
    checkpointIntervalMs: opts.audit.checkpointIntervalMs ?? 1000,
  });
  const witnesses = createWitnessSubmitter({
    db: opts.store.db,
    logger: opts.logger,
    witnesses: opts.audit.witnesses ?? [],
    consistencyProof: auditLog.consistencyProof,
  });
  const audit = createAuditService({
    store: opts.store,
    log: auditLog,
    origin,
    signers: opts.audit.signers,
    checkpointDir: opts.audit.checkpointDir,
    cosigned: witnesses.withCosignatures,
  });
  const purge = createAuditPurge({
    store: opts.store,
    clock,
    retentionDays: opts.audit.retentionDays ?? 730,
  });

  const sweepMs = opts.sweepIntervalMs ?? 500;
  const reconcileMs = opts.reconcileIntervalMs ?? 60_000;
  const intervals: NodeJS.Timeout[] = [];
  let sweeping: Promise<void> | null = null;
  let building: Promise<unknown> | null = null;
  let stopWatchingStore = () => {};

  // During a store outage the periodic jobs would only fail, once per tick: they wait for its return instead.
  const storeUp = () => opts.store.health.available();

  const buildOnce = (): Promise<unknown> => {
    if (!storeUp()) return Promise.resolve();
    building ??= auditLog
      .build()
      .then((latest) => (latest && opts.audit.witnesses?.length ? witnesses.submit(latest) : null))
      // A broken trail is alerted once by its health, not on every turn.
      .catch((err: unknown) => {
        if (!isAuditTrailBroken(err)) opts.logger.error({ err }, 'audit tree build failed');
      })
      .finally(() => {
        building = null;
      });
    return building;
  };

  const sweepOnce = (): Promise<void> => {
    if (!storeUp()) return Promise.resolve();
    sweeping ??= sweeper
      .sweep(sweepMs * 4)
      .catch((err: unknown) => opts.logger.error({ err }, 'sweep failed'))
      .finally(() => {
        sweeping = null;
      });
    return sweeping;
  };

  return {
    service,
    mfa,
    stepUp,
    run,
    revoker,
    audit,
    auditLog,
    /** The audit trail's health: while broken, not ready and state changes refused (fail closed). */
    auditTrail: auditLog.health,
    witnesses,
    purge,
    tokens,
    deps,
    scheduler,
    sweep: sweepOnce,
    reconcile,
    /**
     * Start-up order: end access that is already overdue, clean targets, resume everything else due, then keep
     * sweeping. Overdue grants come first because reconciling waits on every target, down ones included.
     */
    async start(): Promise<void> {
      await checkTrailAtStart(auditLog);
      // The embedded store serves one process, so a claim found at start was left by a crash of this server.
      if (opts.store.dialect === 'sqlite') await deps.requests.releaseClaims(opts.store.db);
      await sweeper
        .expireDue(0)
        .catch((err: unknown) => opts.logger.error({ err }, 'expiring overdue grants at start failed'));
      // Before touching any target: a second store under the same deployment name stops the start.
      await reconcile.checkOwnership();
      await reconcile();
      await sweepOnce();
      stopWatchingStore = opts.store.health.onChange((up) => {
        if (!up) {
          opts.logger.error(
            {},
            'store unavailable: refusing work (STORE_UNAVAILABLE) until it answers again',
          );
          return;
        }
        // Grants whose window ended during the outage are overdue now: end them at once, not at the next tick.
        opts.logger.warn({}, 'store answers again: catching up on overdue work');
        void sweepOnce();
      });
      intervals.push(setInterval(() => void sweepOnce(), sweepMs));
      intervals.push(setInterval(() => void reconcile().catch(() => {}), reconcileMs));
      intervals.push(
        setInterval(() => void buildOnce(), Math.min(250, opts.audit.checkpointIntervalMs ?? 1000)),
      );
      intervals.push(
        setInterval(
          () =>
            void purge()
              // Sign the purge event at once: verifiers accept a blanked body only under a signed purge.
              .then((r) => (r.purged > 0 ? auditLog.build({ checkpoint: true }) : null))
              .catch((err: unknown) => opts.logger.error({ err }, 'audit purge failed')),
          3_600_000,
        ),
      );
      for (const i of intervals) i.unref();
    },
    async stop(): Promise<void> {
      stopWatchingStore();
      for (const i of intervals.splice(0)) clearInterval(i);
      scheduler.stop();
      await sweeping;
      await building;
      await revoker.idle();
      await providers.closeAll();
    },
  };
}

export type Stint = ReturnType<typeof createStint>;
