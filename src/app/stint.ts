import { type AuditOptions, createAuditModule } from '../audit/audit-module.js';
import { createTransitionRunner } from '../audit/transition-runner.js';
import { createCatalogModule } from '../catalog/catalog-module.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { DirectoryConfig } from '../directory/directory-config.js';
import { createDirectoryModule, type DirectoryModule } from '../directory/directory-module.js';
import type { Clock } from '../domain/clock.js';
import { createGrantsModule } from '../grants/grants-module.js';
import type { WorkflowDeps } from '../grants/workflow-deps.js';
import { createIdempotencyModule } from '../idempotency/idempotency-module.js';
import type { IdentityConfig } from '../identity/identity-config.js';
import { createIdentityModule } from '../identity/identity-module.js';
import { createJobsModule } from '../jobs/jobs-module.js';
import type { Logger } from '../logger.js';
import type { MfaConfig } from '../mfa/mfa-config.js';
import { createMfaModule } from '../mfa/mfa-module.js';
import type { Degradation, DegradedCheck, Job, ReadinessCheck, ReadinessReport } from '../module.js';
import type { PolicySource } from '../policy/policy-source.js';
import { createProviderSet, type ProviderFactory } from '../providers/provider-set.js';
import { defaultKinds, type KindRegistry } from '../providers/registry.js';
import { createRequestsModule } from '../requests/requests-module.js';
import type { StintDatabase } from '../store/database.js';
import { grantStore } from '../store/grant-store.js';
import { createRequestStore } from '../store/request-store.js';

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
}

/**
 * The composition root: the capabilities, each built once from the parts it names, in dependency order. Tests
 * build it with other parts. The HTTP server mounts what the modules offer; start and stop run every module's
 * jobs, in this order and in reverse.
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
  const requests = createRequestsModule({
    ...deps,
    run,
    issue: grants.issuer,
    revoker: grants.revoker,
    stepUp: mfa.stepUp,
    onEnded: (id) => grants.scheduler.cancel(id),
  });
  const catalog = createCatalogModule({ policy });
  const idempotency = createIdempotencyModule({ store, secrets, clock, logger });
  const identity = createIdentityModule(
    { store, policy, clock, secrets, audit: audit.writer },
    {
      ...(opts.identity ? { config: opts.identity } : {}),
      // With STINT_OIDC_CLAIMS_DIRECTORY, sign-in records the provider's claims as directory facts.
      ...(directory?.resolveUser ? { resolveUser: directory.resolveUser } : {}),
    },
  );
  const jobs = createJobsModule({
    ...deps,
    run,
    issuer: grants.issuer,
    revoker: grants.revoker,
    expireGrant: grants.expireGrant,
    scheduler: grants.scheduler,
    ...(opts.sweepIntervalMs ? { sweepIntervalMs: opts.sweepIntervalMs } : {}),
    ...(opts.reconcileIntervalMs ? { reconcileIntervalMs: opts.reconcileIntervalMs } : {}),
  });

  const providerJob: Job = { async start() {}, stop: () => providers.closeAll() };
  // Start order; stop runs it backwards (the sweeper stops before the revocations it started are awaited).
  const started: Job[] = [
    ...audit.jobs,
    providerJob,
    ...grants.jobs,
    ...(directory ? [directory] : []),
    ...idempotency.jobs,
    ...jobs.jobs,
  ];
  const readiness: ReadinessCheck[] = [() => store.health.check(READY_STORE_MS), ...audit.ready];
  const degradedChecks: DegradedCheck[] = [...grants.degraded];

  return {
    audit,
    grants,
    directory,
    mfa,
    requests,
    catalog,
    identity,
    idempotency,
    jobs,
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
      for (const job of started) await job.start();
    },
    async stop(): Promise<void> {
      for (const job of [...started].reverse()) await job.stop();
    },
  };
}

export type Stint = ReturnType<typeof createStint>;
