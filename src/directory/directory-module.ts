import type { Clock } from '../domain/clock.js';
import type { ResolveUser } from '../identity/resolve-user.js';
import { resolveByEmail } from '../identity/resolve-user.js';
import type { Logger } from '../logger.js';
import type { Job, StintModule } from '../module.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { StintDatabase } from '../store/database.js';
import { claimsResolver, createClaimsSource } from './claims-source.js';
import { createDeprovisioner, type DeprovisionDeps } from './deprovision.js';
import { createDirectory, type DirectorySource, withDirectory } from './directory.js';
import type { DirectoryConfig } from './directory-config.js';
import { createLdapSource } from './ldap-source.js';
import { type ScimAuthenticator, staticScimToken } from './scim-auth.js';
import { SCIM_ROUTE_ACCESS, scimRoutes } from './scim-routes.js';
import { createScimService } from './scim-service.js';
import { createScimSource } from './scim-source.js';

export interface DirectoryModuleOptions {
  config: DirectoryConfig;
  store: StintDatabase;
  /** The policy holder: its YAML users are the lowest-precedence source. */
  policy: PolicySource;
  logger: Logger;
  clock?: Clock;
  /** How often SCIM rows and OIDC profiles are re-read (other servers sharing the store write them too). */
  scimReloadMs?: number;
  /** The ID-token claim matched to a directory user's email (STINT_OIDC_USER_CLAIM). */
  userClaim?: string;
  /** How the access of people who leave is ended: the request workflow's runner and the grants' revoker. */
  deprovision: DeprovisionDeps;
}

/**
 * The directory and its sources, built from configuration, with deprovisioning. Built after the grants (whose
 * revoker ends the access of people who left) and before the request workflow, which evaluates `policy`, the
 * merged view.
 */
export function createDirectoryModule(opts: DirectoryModuleOptions) {
  const { config, logger } = opts;
  const clock = opts.clock ?? (() => new Date());
  const scimSource = config.scim
    ? createScimSource({
        store: opts.store,
        mapping: { idAttribute: config.scim.idAttribute, groups: config.groups },
        logger,
        clock,
      })
    : null;
  const ldapSource = config.ldap ? createLdapSource(config.ldap, { logger, clock }) : null;
  const claimsSource = config.claims
    ? createClaimsSource({ store: opts.store, roles: config.groups, logger, clock })
    : null;
  const sources: DirectorySource[] = [];
  if (scimSource) sources.push(scimSource);
  if (ldapSource) sources.push(ldapSource);
  // Below SCIM and LDAP, above the YAML: see docs/directory.md.
  if (claimsSource) sources.push(claimsSource);

  const deprovisioner = createDeprovisioner(opts.deprovision);
  const directory = createDirectory({
    yaml: () => opts.policy.current().users,
    sources,
    logger,
    onRemoved: (ids) => deprovisioner.handleRemoved(ids),
  });
  const scim =
    scimSource && config.scim
      ? {
          service: createScimService({
            store: opts.store,
            audit: opts.deprovision.audit,
            clock,
            onChange: () => scimSource.load(),
          }),
          authenticate: staticScimToken(config.scim.token) as ScimAuthenticator,
        }
      : null;
  const merged = withDirectory(opts.policy, directory);
  const above = [scimSource, ldapSource].filter((s) => s !== null);
  const resolveUser: ResolveUser | null =
    claimsSource && config.claims
      ? claimsResolver({
          source: claimsSource,
          match: resolveByEmail(merged, opts.userClaim),
          directory: () => directory.users(),
          heldAbove: (id) => above.some((s) => s.users().has(id) || s.suspended().has(id)),
          names: config.claims,
          clock,
        })
      : null;
  let timer: NodeJS.Timeout | null = null;

  async function sweepOrphans(): Promise<void> {
    directory.refresh();
    const health = directory.health();
    if (!health.ok) {
      logger.warn(
        { health },
        'directory degraded: grants of departed people are not swept until it recovers',
      );
      return;
    }
    const users = directory.users();
    await deprovisioner.revokeOrphans((id) => users.has(id));
  }

  /**
   * Loads every source, then revokes grants of anyone who is not in the directory: people who left while no
   * server watched, and requests that were pending when their requester left and were approved later. Runs
   * again every `scimReloadMs`, and only while every source is healthy (an empty snapshot is not a layoff).
   */
  const job: Job = {
    async start(): Promise<void> {
      await scimSource?.load();
      await claimsSource?.load();
      await ldapSource?.start();
      await sweepOrphans();
      timer = setInterval(() => {
        void (async () => {
          await scimSource?.load();
          await claimsSource?.load();
          directory.refresh();
          await sweepOrphans();
        })().catch((err: unknown) => logger.error({ err }, 'directory refresh failed'));
      }, opts.scimReloadMs ?? 30_000);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      await ldapSource?.stop();
      await deprovisioner.idle();
    },
  };

  return {
    directory,
    /** Hand this to createStint (and to everything that reads `policy.users`). */
    policy: merged,
    /** Hand this to the identity module when claims are a directory source; null → match by email only. */
    resolveUser,
    /** The SCIM endpoints' service when SCIM is configured (its routes are in `module`). */
    scim,
    ldap: ldapSource,
    module: {
      name: 'directory',
      jobs: [job],
      ...(scim ? { routes: [{ plugin: scimRoutes(scim), access: SCIM_ROUTE_ACCESS }] } : {}),
    } satisfies StintModule,
  };
}

export type DirectoryModule = ReturnType<typeof createDirectoryModule>;
