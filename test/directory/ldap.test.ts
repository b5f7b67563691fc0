import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectory } from '../../src/directory/directory.js';
import { directoryConfigFromEnv } from '../../src/directory/directory-config.js';
import { createLdapSource, type LdapConfig, type LdapSource } from '../../src/directory/ldap-source.js';
import type { Logger } from '../../src/logger.js';
import { type Slapd, startSlapd } from './slapd.js';

const SEED = (s: string) => `dn: uid=lee,ou=people,${s}
objectClass: inetOrgPerson
uid: lee
cn: Lee Lead
sn: Lead
mail: lee@corp.example

dn: uid=pat,ou=people,${s}
objectClass: inetOrgPerson
uid: pat
cn: Pat Payments
sn: Payments
mail: pat@corp.example
manager: uid=lee,ou=people,${s}

dn: uid=sam,ou=people,${s}
objectClass: inetOrgPerson
uid: sam
cn: Sam Security
sn: Security
mail: sam@corp.example
manager: uid=lee,ou=people,${s}

dn: uid=nomail,ou=people,${s}
objectClass: inetOrgPerson
uid: nomail
cn: No Mail
sn: Mail

dn: cn=payments,ou=groups,${s}
objectClass: groupOfNames
cn: payments
member: uid=pat,ou=people,${s}

dn: cn=security,ou=groups,${s}
objectClass: groupOfNames
cn: security
member: uid=sam,ou=people,${s}

dn: cn=leads,ou=groups,${s}
objectClass: groupOfNames
cn: leads
member: uid=lee,ou=people,${s}
member: uid=sam,ou=people,${s}

dn: cn=oncall,ou=groups,${s}
objectClass: posixGroup
cn: oncall
gidNumber: 5000
memberUid: pat
`;

function recordingLogger() {
  const errors: string[] = [];
  const logger: Logger = { info() {}, warn() {}, error: (_o, msg) => errors.push(msg ?? '') };
  return { logger, errors };
}

describe('LDAP directory source against a real slapd', () => {
  let slapd: Slapd;
  let config: LdapConfig;
  let dir: string;

  beforeAll(async () => {
    slapd = await startSlapd();
    await slapd.ldif(SEED(slapd.suffix));
    dir = mkdtempSync(join(tmpdir(), 'stint-ldap-'));
    const passwordFile = join(dir, 'bind-password');
    writeFileSync(passwordFile, `${slapd.rootPassword}\n`);
    // The configuration path a deployment uses: environment, password from a file.
    const parsed = directoryConfigFromEnv({
      STINT_LDAP_URL: slapd.url,
      STINT_LDAP_BIND_DN: slapd.rootDN,
      STINT_LDAP_BIND_PASSWORD_FILE: passwordFile,
      STINT_LDAP_USER_BASE: `ou=people,${slapd.suffix}`,
      STINT_LDAP_GROUP_BASE: `ou=groups,${slapd.suffix}`,
      STINT_LDAP_TIMEOUT: '2',
      STINT_DIRECTORY_ONCALL_GROUP: 'oncall',
    });
    if (parsed.ldap === null) throw new Error('LDAP not configured');
    config = parsed.ldap;
  });
  afterAll(async () => {
    await slapd?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a half configuration at start', () => {
    expect(() => directoryConfigFromEnv({ STINT_LDAP_URL: 'ldap://127.0.0.1:1' })).toThrow(
      /STINT_LDAP_USER_BASE/,
    );
    expect(() =>
      directoryConfigFromEnv({
        STINT_LDAP_URL: 'ldap://127.0.0.1:1',
        STINT_LDAP_USER_BASE: 'dc=x',
        STINT_LDAP_BIND_DN: 'cn=a',
      }),
    ).toThrow(/STINT_LDAP_BIND_PASSWORD/);
    expect(() => directoryConfigFromEnv({ STINT_LDAP_URL: 'http://x' })).toThrow(/STINT_LDAP_URL/);
  });

  describe('sync', () => {
    let source: LdapSource;
    const removed: string[][] = [];
    const { logger, errors } = recordingLogger();

    beforeAll(() => {
      source = createLdapSource(config, { logger });
    });
    afterAll(() => source.stop());

    it('maps users, groups to teams and roles, and the manager DN to an id', async () => {
      expect(source.health()).toMatchObject({ ok: false, error: 'not synced yet' });
      expect(await source.sync()).toBe(true);
      const users = source.users();
      expect([...users.keys()].sort()).toEqual(['lee', 'pat', 'sam']);
      expect(users.get('pat')).toEqual({
        id: 'pat',
        email: 'pat@corp.example',
        name: 'Pat Payments',
        manager: 'lee',
        teams: ['oncall', 'payments'],
        security: false,
        auditor: false,
        admin: false,
        onCall: true,
      });
      expect(users.get('sam')).toMatchObject({
        teams: ['leads', 'security'],
        security: true,
        manager: 'lee',
      });
      expect(users.get('lee')?.manager).toBeNull();
      expect(source.health()).toMatchObject({ ok: true, error: null, users: 3 });
    });

    it('removes a person deleted from LDAP at the next sync', async () => {
      const directory = createDirectory({
        yaml: () => new Map(),
        sources: [source],
        onRemoved: (ids) => removed.push(ids),
      });
      expect(directory.get('pat')).toBeDefined();
      await slapd.remove(`uid=pat,ou=people,${slapd.suffix}`);
      await source.sync();
      expect(removed).toEqual([['pat']]);
      expect(directory.get('pat')).toBeUndefined();
      await slapd.ldif(
        `dn: cn=security,ou=groups,${slapd.suffix}\nchangetype: modify\nadd: member\nmember: uid=lee,ou=people,${slapd.suffix}\n`,
        { modify: true },
      );
      await source.sync();
      expect(directory.get('lee')?.security).toBe(true);
    });

    it('keeps the last snapshot and reports a server that is down, then recovers', async () => {
      const before = source.users();
      await slapd.stop();
      errors.length = 0;
      expect(await source.sync()).toBe(false);
      expect(source.users()).toBe(before);
      const health = source.health();
      expect(health.ok).toBe(false);
      expect(health.error).toMatch(new RegExp(`^LDAP sync from ${slapd.url} failed: `));
      expect(health.lastSuccessAt).not.toBeNull();
      expect(errors[0]).toMatch(/LDAP sync from .* failed: .*serving the last good snapshot/);
      await slapd.start();
      expect(await source.sync()).toBe(true);
      expect(source.health()).toMatchObject({ ok: true, error: null });
    });

    it('refuses a sync that finds nobody instead of removing everyone', async () => {
      const cfg = { ...config };
      const guarded = createLdapSource(cfg, { logger });
      expect(await guarded.sync()).toBe(true);
      const before = guarded.users();
      expect(before.size).toBeGreaterThan(0);
      // The same as a wrong filter or an emptied base in a deployment.
      cfg.userFilter = '(uid=nobody-at-all)';
      expect(await guarded.sync()).toBe(false);
      expect(guarded.users()).toBe(before);
      expect(guarded.health().error).toMatch(/returned no users/);
    });
  });

  it('reports a wrong bind password as an error, not a crash', async () => {
    const { logger, errors } = recordingLogger();
    const source = createLdapSource({ ...config, bindPassword: 'wrong' }, { logger });
    expect(await source.sync()).toBe(false);
    expect(source.health().error).toMatch(/InvalidCredentialsError/);
    expect(errors).toHaveLength(1);
  });

  it('reports a server that was never reachable', async () => {
    const { logger } = recordingLogger();
    const source = createLdapSource({ ...config, url: 'ldap://127.0.0.1:1', timeoutMs: 1000 }, { logger });
    await source.start();
    expect(source.health()).toMatchObject({ ok: false, lastSuccessAt: null, users: 0 });
    expect(source.health().error).toMatch(/ECONNREFUSED/);
    await source.stop();
  });
});

describe('LDAP over TLS against a real slapd', () => {
  let slapd: Slapd;
  let base: LdapConfig;

  beforeAll(async () => {
    slapd = await startSlapd({ tls: true });
    await slapd.ldif(SEED(slapd.suffix));
    const parsed = directoryConfigFromEnv({
      STINT_LDAP_URL: slapd.url,
      STINT_LDAP_BIND_DN: slapd.rootDN,
      STINT_LDAP_BIND_PASSWORD: slapd.rootPassword,
      STINT_LDAP_USER_BASE: `ou=people,${slapd.suffix}`,
      STINT_LDAP_CA_FILE: slapd.caFile ?? '',
      STINT_LDAP_STARTTLS: 'true',
    });
    if (parsed.ldap === null) throw new Error('LDAP not configured');
    base = parsed.ldap;
  });
  afterAll(() => slapd?.destroy());

  it('syncs over StartTLS and over ldaps:// when the CA is trusted', async () => {
    const { logger } = recordingLogger();
    expect(await createLdapSource(base, { logger }).sync()).toBe(true);
    const ldaps = createLdapSource({ ...base, url: slapd.ldapsUrl ?? '', startTls: false }, { logger });
    await ldaps.sync();
    expect(ldaps.health().error).toBeNull();
    expect(ldaps.users().size).toBe(3);
  });

  it('refuses a server whose certificate it cannot verify', async () => {
    const { logger } = recordingLogger();
    const untrusted = createLdapSource(
      { ...base, url: slapd.ldapsUrl ?? '', startTls: false, ca: null },
      { logger },
    );
    expect(await untrusted.sync()).toBe(false);
    expect(untrusted.health().error).toMatch(/self[- ]signed|certificate/i);
    const startTls = createLdapSource({ ...base, ca: null }, { logger });
    expect(await startTls.sync()).toBe(false);
    expect(startTls.health().error).toMatch(/self[- ]signed|certificate/i);
  });

  it('refuses to send a bind password in clear text to a remote server', () => {
    expect(() =>
      directoryConfigFromEnv({
        STINT_LDAP_URL: 'ldap://ldap.corp.example',
        STINT_LDAP_USER_BASE: 'dc=corp',
        STINT_LDAP_BIND_DN: 'cn=stint',
        STINT_LDAP_BIND_PASSWORD: 'x',
      }),
    ).toThrow(/ldaps:\/\/ or STINT_LDAP_STARTTLS=true/);
  });
});
