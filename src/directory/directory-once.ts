import type { Logger } from '../logger.js';
import type { DirectoryUser } from '../policy/policy-types.js';
import type { StintDatabase } from '../store/database.js';
import { createClaimsSource } from './claims-source.js';
import { createDirectory, type DirectorySource } from './directory.js';
import type { DirectoryConfig } from './directory-config.js';
import { createLdapSource } from './ldap-source.js';
import { createScimSource } from './scim-source.js';

/**
 * The directory as a server with this configuration would see it now, read once: for commands on the server
 * host (`stint admin session create`) that must not act for someone the directory does not know. Same sources
 * and merge rule as the server's directory module; no timers, no deprovisioning.
 */
export async function readDirectoryOnce(opts: {
  config: DirectoryConfig;
  store: StintDatabase;
  yaml: ReadonlyMap<string, DirectoryUser>;
  logger: Logger;
}): Promise<{ users: ReadonlyMap<string, DirectoryUser>; unhealthy: string[] }> {
  const { config, logger } = opts;
  const sources: DirectorySource[] = [];
  if (config.scim) {
    const scim = createScimSource({
      store: opts.store,
      mapping: { idAttribute: config.scim.idAttribute, groups: config.groups },
      logger,
    });
    await scim.load();
    sources.push(scim);
  }
  if (config.ldap) {
    const ldap = createLdapSource(config.ldap, { logger });
    await ldap.sync();
    sources.push(ldap);
  }
  if (config.claims) {
    const claims = createClaimsSource({ store: opts.store, roles: config.groups, logger });
    await claims.load();
    sources.push(claims);
  }
  const directory = createDirectory({ yaml: () => opts.yaml, sources, logger });
  return {
    users: directory.users(),
    unhealthy: directory
      .health()
      .sources.filter((s) => !s.ok)
      .map((s) => s.source),
  };
}
