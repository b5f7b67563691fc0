import { type AuditOptions, createAuditModule } from '../audit/audit-module.js';
import { createTransitionRunner } from '../audit/transition-runner.js';
import type { BreakglassConfig } from '../breakglass/breakglass-config.js';
import { createBreakglassModule } from '../breakglass/breakglass-module.js';
import { createCatalogModule } from '../catalog/catalog-module.js';
import { createConversionModule } from '../conversion/conversion-module.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { DirectoryConfig } from '../directory/directory-config.js';
import { createDirectoryModule, type DirectoryModule } from '../directory/directory-module.js';
import type { Clock } from '../domain/clock.js';
import { createEvidenceModule } from '../evidence/evidence-module.js';
import { createGrantsModule } from '../grants/grants-module.js';
import type { WorkflowDeps } from '../grants/workflow-deps.js';
import { createIdempotencyModule } from '../idempotency/idempotency-module.js';
import type { IdentityConfig } from '../identity/identity-config.js';
import { createIdentityModule } from '../identity/identity-module.js';
import type { Logger } from '../logger.js';
import type { MetricsConfig } from '../metrics/metrics-config.js';
import { createMetricsModule } from '../metrics/metrics-module.js';
import type { MfaConfig } from '../mfa/mfa-config.js';
import { createMfaModule } from '../mfa/mfa-module.js';
import type { Degradation, ReadinessReport, StintModule } from '../module.js';
import { createNotifyModule } from '../notify/notify-module.js';
import type { PolicySource } from '../policy/policy-source.js';
import { providerMetricSources } from '../providers/provider-metric-sources.js';
import { createProviderSet, type ProviderFactory } from '../providers/provider-set.js';
import { defaultKinds, type KindRegistry } from '../providers/registry.js';
import type { RecordingConfig } from '../recording/recording-config.js';
import { createRecordingModule } from '../recording/recording-module.js';
import { createReportModule } from '../report/report-module.js';
import { createRequestsModule } from '../requests/requests-module.js';
import type { StintDatabase } from '../store/database.js';
import { grantStore } from '../store/grant-store.js';
import { createRequestStore } from '../store/request-store.js';
import { createSweepLoop } from './sweep-loop.js';

/** The store's share of /readyz, which must answer within a second whether the store does or not. */
const READY_STORE_MS = 800;

export interface StintOptions {
  audit: AuditOptions;
  /** Step-up MFA settings; defaults: 15 min, TOTP only. */
  mfa?: MfaConfig;
  /** Sign-in settings (OIDC, sessions, lock-out); defaults: API tokens only. */
  identity?: IdentityConfig;
  /** Directory sources (SCIM, LDAP, OIDC claims) above the policy's YAML users; none by default. */
  directory?: { config: DirectoryConfig; logger?: Logger; scimReloadMs?: number };
  store: StintDatabase;
  /** The store's own id (readStoreId after migrating): the ownership mark on everything put on a target. */
  storeId: string;
  policy: PolicySource;
  providerFactory: ProviderFactory;
  /** The target kinds this server knows (what jobs read capabilities from); the built-in ones by default. */
  providerKinds?: KindRegistry;
  secrets: SecretBox;
  clock?: Clock;
  logger: Logger;
  /** How often durable due work is swept; timers make expiry exact in between. */
  sweepIntervalMs?: number;
  reconcileIntervalMs?: number;
  /** Break-glass's server settings (where offline unseal records are read); none read by default. */
  breakglass?: BreakglassConfig;
  /** The operations exporter's settings (STINT_METRICS_LISTEN); /metrics on the API port only by default. */
  metrics?: MetricsConfig;
  /** Session recording (the SSH proxy, where recordings go, the review draw); none: no proxy. */
  recording?: RecordingConfig;
}

/**
 * The composition root: the capabilities, each built once from the parts it names, in dependency order. Tests
 * build it with other parts. Start, stop, the sweep loop, readiness and the HTTP mounts all derive from the
 * module list below: a new capability is a folder and one line there.
 */
export function createStint(opts: StintOptions) {
  const clock = opts.clock ?? (() => new Date());
  const { store, logger, secrets } = opts;
  const requestStore = createRequestStore(store.dialect);
  const providers = createProviderSet(
    opts.providerFactory,
    () => ({ storeId: opts.storeId, deployment: opts.policy.current().settings.deployment }),
    opts.providerKinds ?? defaultKinds,
  );

  const audit = createAuditModule({ ...opts.audit, store, requests: requestStore, clock, logger });
  const shared = {
    store,
    requests: requestStore,
    grants: grantStore,
    audit: audit.writer,
    providers,
    secrets,
    clock,
    logger,
  };
  const run = createTransitionRunner(shared);
  // Grants read only the policy's resources and settings, which the directory does not change.
  const grants = createGrantsModule({
    ...shared,
    policy: opts.policy,
    run,
    assertAuditWritable: () => audit.trail.assertWritable(),
    ...(opts.sweepIntervalMs ? { sweepIntervalMs: opts.sweepIntervalMs } : {}),
    ...(opts.reconcileIntervalMs ? { reconcileIntervalMs: opts.reconcileIntervalMs } : {}),
  });
  const directory: DirectoryModule | null = opts.directory
    ? createDirectoryModule({
        config: opts.directory.config,
        store,
        policy: opts.policy,
        logger: opts.directory.logger ?? logger,
        clock,
        ...(opts.directory.scimReloadMs ? { scimReloadMs: opts.directory.scimReloadMs } : {}),
        userClaim: opts.identity?.oidc?.userClaim,
        deprovision: {
          ...shared,
          run,
          revoker: grants.revoker,
          onEnded: (id) => grants.scheduler.cancel(id),
        },
      })
    : null;
  // The merged directory (SCIM, LDAP, OIDC claims, then the YAML users) is what evaluation and sign-in see.
  const policy = directory?.policy ?? opts.policy;
  const deps: WorkflowDeps = { ...shared, policy };
  const mfa = createMfaModule({
    store,
    audit: audit.writer,
    secrets,
    clock,
    logger,
    ...(opts.mfa ? { config: opts.mfa } : {}),
    userExists: (id) => policy.current().users.has(id),
  });
  // Before requests: an SSH take answers the recording proxy's login token with the certificate.
  const recording = createRecordingModule({
    ...shared,
    policy,
    storeId: opts.storeId,
    ...(opts.recording ? { config: opts.recording } : {}),
  });
  const requests = createRequestsModule({
    ...deps,
    takeExtras: recording.takeExtras,
    run,
    issue: grants.issuer,
    revoker: grants.revoker,
    stepUp: mfa.stepUp,
    onEnded: (id) => grants.scheduler.cancel(id),
  });
  const catalog = createCatalogModule({ policy });
  const idempotency = createIdempotencyModule({ store, secrets, clock });
  const identity = createIdentityModule(
    { store, policy, clock, secrets, audit: audit.writer },
    {
      ...(opts.identity ? { config: opts.identity } : {}),
      // With STINT_OIDC_CLAIMS_DIRECTORY, sign-in records the provider's claims as directory facts.
      ...(directory?.resolveUser ? { resolveUser: directory.resolveUser } : {}),
    },
  );

  const breakglass = createBreakglassModule({
    ...deps,
    stepUp: mfa.stepUp,
    issuer: grants.issuer,
    assertAuditWritable: () => audit.trail.assertWritable(),
    revokeRequest: (actor, id, comment) => requests.service.revoke(actor, id, comment),
    async verifyAudit() {
      await audit.log.build({ checkpoint: true });
      const report = await audit.service.verify({
        userId: 'stint',
        security: false,
        auditor: true,
        admin: false,
      });
      return report.ok
        ? {
            ok: true,
            detail: `the trail verifies up to checkpoint ${report.size} (${report.eventsRead} events)`,
          }
        : { ok: false, detail: `${report.problem.code}: ${report.problem.message}` };
    },
    ...(opts.breakglass ? { config: opts.breakglass } : {}),
  });
  // After the workflow: it only reads what the others committed (the audit trail) and never holds them up.
  const notify = createNotifyModule({
    store,
    audit: audit.writer,
    requests: requestStore,
    policy,
    secrets,
    clock,
    logger,
  });

  const providersModule: StintModule = {
    name: 'providers',
    jobs: [{ async start() {}, stop: () => providers.closeAll() }],
    metrics: providerMetricSources(() => providers.metrics()),
  };
  const report = createReportModule({ store, clock });
  const conversion = createConversionModule({ store, audit: audit.writer, policy, providers, clock });
  const evidence = createEvidenceModule({ policy: opts.policy, store, auditRange: audit.service.range });
  // Reads the module list (and the sweep loop's figures) when it starts: every module is there by then.
  const metrics = createMetricsModule({
    sources: () => [...modules.flatMap((m) => m.metrics ?? []), ...sweepLoop.metrics],
    logger,
    ...(opts.metrics ? { config: opts.metrics } : {}),
  });
  /**
   * Every capability, in start order (stop runs it backwards). Grants start before the others reach their
   * targets: access already overdue ends first. The sweep loop starts last and stops first, so no sweep runs
   * against a module that has stopped.
   */
  const modules: readonly StintModule[] = [
    audit.module,
    providersModule,
    grants.module,
    ...(directory ? [directory.module] : []),
    mfa.module,
    requests.module,
    catalog.module,
    identity.module,
    idempotency.module,
    breakglass.module,
    notify.module,
    report.module,
    evidence.module,
    conversion.module,
    metrics.module,
    recording.module,
  ];
  const names = new Set<string>();
  for (const m of modules) {
    if (names.has(m.name)) throw new Error(`two modules are named ${m.name}`);
    names.add(m.name);
  }
  const sweepLoop = createSweepLoop(
    { store, logger, ...(opts.sweepIntervalMs ? { tickMs: opts.sweepIntervalMs } : {}) },
    modules.flatMap((m) => m.sweeps ?? []),
  );
  const jobs = [...modules.flatMap((m) => m.jobs ?? []), sweepLoop.job];
  const readiness = [() => store.health.check(READY_STORE_MS), ...modules.flatMap((m) => m.ready ?? [])];
  const degradedChecks = modules.flatMap((m) => m.degraded ?? []);

  return {
    audit,
    grants,
    directory,
    mfa,
    requests,
    catalog,
    identity,
    idempotency,
    breakglass,
    notify,
    metrics,
    report,
    conversion,
    recording,
    /** Every module, in start order: what the HTTP server mounts routes from and an exporter reads metrics from. */
    modules,
    /** Runs every module's sweeps once, each awaited (a start's catch-up; tests call it to act now). */
    sweep: () => sweepLoop.runAll(),
    /** The shared workflow parts the modules were built from, for tests and tools; the server takes none. */
    deps: { ...deps, run },
    /**
     * Throws unless every module can serve (the store answers and has room, the audit trail can be signed);
     * then names what is degraded (revocations or expiries overdue), which does not stop serving.
     */
    async ready(): Promise<ReadinessReport> {
      for (const check of readiness) await check();
      const degraded = (await Promise.all(degradedChecks.map((c) => c()))).filter(
        (d): d is Degradation => d !== null,
      );
      return degraded.length > 0 ? { status: 'degraded', degraded } : { status: 'ready' };
    },
    async start(): Promise<void> {
      for (const job of jobs) await job.start();
    },
    async stop(): Promise<void> {
      for (const job of [...jobs].reverse()) await job.stop();
    },
    /** Stops the sweep loop only: no sweep runs until `sweep()` is called (tests of a server that missed work). */
    stopSweeps: () => sweepLoop.job.stop(),
  };
}

export type Stint = ReturnType<typeof createStint>;
