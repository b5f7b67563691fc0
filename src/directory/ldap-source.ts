import type { Entry } from 'ldapts';
import type { Logger } from '../logger.js';
import type { DirectoryUser } from '../policy/policy-types.js';
import type { DirectorySource, SourceHealth } from './directory.js';
import { hasGroup, type RoleGroups } from './scim-source.js';
import { createSourceSnapshot } from './source-snapshot.js';

export interface LdapAttributes {
  /** The Stint user id, e.g. uid or sAMAccountName. */
  id: string;
  email: string;
  name: string;
  /** Holds the manager's DN. */
  manager: string;
  /** Optional user attribute listing group DNs (memberOf on Active Directory / the memberof overlay). */
  memberOf: string | null;
  groupName: string;
  /** Group attributes listing members: member / uniqueMember hold DNs, memberUid holds ids. */
  groupMember: string[];
}

export interface LdapConfig {
  url: string;
  /** Upgrade an ldap:// connection with StartTLS before binding. */
  startTls: boolean;
  /** PEM CA bundle to verify the server with (ldaps:// or StartTLS); null → the system's CAs. */
  ca: string | null;
  bindDN: string | null;
  bindPassword: string | null;
  userBase: string;
  userFilter: string;
  /** null: teams come from `memberOf` only. */
  groupBase: string | null;
  groupFilter: string;
  attributes: LdapAttributes;
  groups: RoleGroups;
  intervalMs: number;
  timeoutMs: number;
  /** After this long without a successful sync the source reports itself stale (health), see ldapHealth. */
  maxStaleMs: number;
}

export const LDAP_DEFAULTS = {
  userFilter: '(objectClass=inetOrgPerson)',
  groupFilter: '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))',
  attributes: {
    id: 'uid',
    email: 'mail',
    name: 'cn',
    manager: 'manager',
    memberOf: null,
    groupName: 'cn',
    groupMember: ['member', 'uniqueMember', 'memberUid'],
  } satisfies LdapAttributes,
  intervalMs: 300_000,
  timeoutMs: 10_000,
  maxStaleMs: 24 * 3_600_000,
};

/** DNs compare case-insensitively and without spaces around separators (good enough for DNs a server returns). */
export function normalizeDn(dn: string): string {
  return dn
    .split(',')
    .map((rdn) =>
      rdn
        .split('=')
        .map((p) => p.trim())
        .join('='),
    )
    .join(',')
    .toLowerCase();
}

function values(entry: Entry, attr: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attr.toLowerCase());
  if (key === undefined) return [];
  const v = entry[key];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

/** The first RDN's value: a group's name when only its DN is known (memberOf pointing outside groupBase). */
function rdnValue(dn: string): string {
  const first = dn.split(',')[0] ?? '';
  return first.slice(first.indexOf('=') + 1).trim();
}

/**
 * LDAP entries to directory users, pure. Users without an id or email are skipped (returned as `skipped`).
 * Teams are the names of the groups that list the user (by DN, or by id for memberUid) plus memberOf.
 */
export function ldapToDirectory(
  userEntries: readonly Entry[],
  groupEntries: readonly Entry[],
  config: Pick<LdapConfig, 'attributes' | 'groups'>,
): { users: Map<string, DirectoryUser>; skipped: string[] } {
  const a = config.attributes;
  const idByDn = new Map<string, string>();
  const skipped: string[] = [];
  for (const e of userEntries) {
    const id = values(e, a.id)[0];
    if (id !== undefined && id !== '') idByDn.set(normalizeDn(e.dn), id);
  }
  const teams = new Map<string, Set<string>>();
  const addTeam = (id: string, team: string) => {
    const set = teams.get(id) ?? new Set<string>();
    set.add(team);
    teams.set(id, set);
  };
  const groupNameByDn = new Map<string, string>();
  for (const g of groupEntries) {
    const name = values(g, a.groupName)[0] ?? rdnValue(g.dn);
    groupNameByDn.set(normalizeDn(g.dn), name);
    for (const member of a.groupMember.flatMap((attr) => values(g, attr))) {
      const id = member.includes('=') ? idByDn.get(normalizeDn(member)) : member;
      if (id !== undefined) addTeam(id, name);
    }
  }
  const users = new Map<string, DirectoryUser>();
  for (const e of userEntries) {
    const id = idByDn.get(normalizeDn(e.dn));
    const email = values(e, a.email)[0];
    if (id === undefined || email === undefined || email === '') {
      skipped.push(e.dn);
      continue;
    }
    if (a.memberOf !== null) {
      for (const dn of values(e, a.memberOf)) addTeam(id, groupNameByDn.get(normalizeDn(dn)) ?? rdnValue(dn));
    }
    const managerDn = values(e, a.manager)[0];
    const manager = managerDn === undefined ? null : (idByDn.get(normalizeDn(managerDn)) ?? null);
    const list = [...(teams.get(id) ?? [])].sort();
    users.set(id, {
      id,
      email,
      name: values(e, a.name)[0] ?? id,
      manager,
      teams: list,
      security: hasGroup(list, config.groups.security),
      auditor: hasGroup(list, config.groups.auditor),
      admin: hasGroup(list, config.groups.admin),
      onCall: hasGroup(list, config.groups.onCall),
    });
  }
  return { users, skipped };
}

export interface LdapSource extends DirectorySource {
  /** One sync now. Never throws: a failure is logged and kept for health(); the last snapshot stays. */
  sync(): Promise<boolean>;
  /** First sync, then one every intervalMs. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * People from LDAP, synced into memory on an interval. When the server is down or answers something unusable,
 * the last good snapshot keeps serving (eligibility and sessions carry on) and health() says so; people
 * removed during the outage lose access at the first successful sync after it.
 */
export function createLdapSource(
  config: LdapConfig,
  deps: { logger: Logger; clock?: () => Date },
): LdapSource {
  const clock = deps.clock ?? (() => new Date());
  const snapshot = createSourceSnapshot('ldap', clock);
  let running: Promise<boolean> | null = null;
  let timer: NodeJS.Timeout | null = null;

  async function fetchAll(): Promise<{ users: Entry[]; groups: Entry[] }> {
    const tlsOptions = config.ca === null ? {} : { ca: config.ca };
    // ldapts opens TLS at connect whenever tlsOptions has a value, even for ldap://: pass them only for ldaps://.
    // ldapts (~1.5 MB of heap) loads at the first fetch: a server with no LDAP directory never needs it.
    const { Client } = await import('ldapts');
    const client = new Client({
      url: config.url,
      timeout: config.timeoutMs,
      connectTimeout: config.timeoutMs,
      ...(config.url.startsWith('ldaps://') ? { tlsOptions } : {}),
    });
    try {
      // StartTLS checks the certificate against `host`, which ldapts leaves as localhost unless told.
      if (config.startTls) await client.startTLS({ ...tlsOptions, host: new URL(config.url).hostname });
      if (config.bindDN !== null) await client.bind(config.bindDN, config.bindPassword ?? '');
      const a = config.attributes;
      const userAttrs = [a.id, a.email, a.name, a.manager, ...(a.memberOf ? [a.memberOf] : [])];
      const found = await client.search(config.userBase, {
        scope: 'sub',
        filter: config.userFilter,
        attributes: userAttrs,
        paged: true,
      });
      const groups =
        config.groupBase === null
          ? []
          : (
              await client.search(config.groupBase, {
                scope: 'sub',
                filter: config.groupFilter,
                attributes: [a.groupName, ...a.groupMember],
                paged: true,
              })
            ).searchEntries;
      return { users: found.searchEntries, groups };
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  function describe(err: unknown): string {
    // ldapts result errors carry their meaning in the name (InvalidCredentialsError) and a bare code message.
    const message =
      err instanceof Error
        ? [err.name === 'Error' ? '' : err.name, err.message.trim()].filter((p) => p !== '').join(': ')
        : String(err);
    const code = (err as { code?: unknown } | null)?.code;
    return `LDAP sync from ${config.url} failed: ${message}${typeof code === 'string' ? ` (${code})` : ''}`;
  }

  async function syncOnce(): Promise<boolean> {
    try {
      const fetched = await fetchAll();
      const next = ldapToDirectory(fetched.users, fetched.groups, config);
      const had = snapshot.source.users().size;
      if (next.users.size === 0 && had > 0) {
        // A wrong filter or an emptied base must not look like everyone leaving the company.
        throw new Error(`the search returned no users (had ${had}); keeping the last snapshot`);
      }
      if (next.skipped.length > 0) {
        deps.logger.warn(
          { entries: next.skipped.slice(0, 20), count: next.skipped.length },
          'LDAP entries without id or email skipped',
        );
      }
      if (snapshot.error() !== null) deps.logger.info({ url: config.url }, 'LDAP sync recovered');
      snapshot.loaded(next.users);
      return true;
    } catch (err) {
      const message = describe(err);
      snapshot.failed(message);
      deps.logger.error(
        {
          url: config.url,
          lastSuccessAt: snapshot.lastSuccessAt()?.toISOString() ?? null,
          users: snapshot.source.users().size,
        },
        `${message}; serving the last good snapshot`,
      );
      return false;
    }
  }

  const source: LdapSource = {
    ...snapshot.source,
    health(): SourceHealth {
      const lastSuccessAt = snapshot.lastSuccessAt();
      const lastError = snapshot.error();
      const stale = lastSuccessAt !== null && clock().getTime() - lastSuccessAt.getTime() > config.maxStaleMs;
      const error =
        lastSuccessAt === null && lastError === null
          ? 'not synced yet'
          : stale
            ? `${lastError ?? 'no successful sync'}; snapshot older than ${Math.round(config.maxStaleMs / 60_000)} min`
            : lastError;
      return {
        source: 'ldap',
        ok: lastSuccessAt !== null && lastError === null,
        lastSuccessAt: lastSuccessAt?.toISOString() ?? null,
        error,
        users: snapshot.source.users().size,
      };
    },
    sync() {
      running ??= syncOnce().finally(() => {
        running = null;
      });
      return running;
    },
    async start() {
      await source.sync();
      timer = setInterval(() => void source.sync(), config.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },
  };
  return source;
}
