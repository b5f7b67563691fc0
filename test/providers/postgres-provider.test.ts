import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import { instrumentProvider } from '../../src/providers/instrument.js';
import {
  type PostgresConfigInput,
  parsePostgresConfig,
} from '../../src/providers/postgres/postgres-config.js';
import { createPostgresProvider } from '../../src/providers/postgres/postgres-provider.js';
import { isPrincipalName, principalFor } from '../../src/providers/postgres/principal-name.js';
import {
  type CredentialProvider,
  type IssueRequest,
  type IssueResult,
  isCancelled,
  isPermanentFailure,
  NO_CANCEL,
} from '../../src/providers/provider.js';
import { connectAs, pgUrl } from '../support/pg-cluster.js';

const cluster = inject('pgCluster');
/** A store of its own, so no other test's reconciler or assertion sees these roles as its own. */
const OWNER = { deployment: 'provider-test', storeId: `st_${randomBytes(8).toString('hex')}` };
const IN_AN_HOUR = () => new Date(Date.now() + 3_600_000);

/** A PostgreSQL provider for `resourceId`, as the registry makes it: inside the wrapper, logging to `logger`. */
function postgresProvider(
  resourceId: string,
  input: PostgresConfigInput,
  logger?: Logger,
): CredentialProvider {
  const config = parsePostgresConfig(resourceId, input);
  const inner = createPostgresProvider({ config, owner: OWNER, ...(logger ? { logger } : {}) });
  // The wrapper scrubs the admin URL's secrets, as the registry sets it up.
  return instrumentProvider(inner, {
    resource: resourceId,
    logger: logger ?? silentLogger,
    secrets: config.secrets,
  });
}

/** The v1-shaped calls these tests were written in, over the v2 contract. */
function calls(provider: CredentialProvider) {
  return {
    issue: (request: IssueRequest) => provider.issue(request, NO_CANCEL),
    revoke: (principal: string) => provider.revoke({ principal }, NO_CANCEL),
    gone: async (principal: string) => (await provider.verifyRevoked({ principal }, NO_CANCEL)).gone,
    listOwned: async () => (await provider.listOwned({}, NO_CANCEL)).principals,
    ping: () => provider.ping({}, NO_CANCEL),
  };
}

/** Request ids unique to this file's run: other suites share the cluster. */
const newId = (label = 'req') => `${label}-${randomBytes(5).toString('hex')}`;

interface LogLine {
  level: string;
  obj: object;
  msg: string | undefined;
}

function capturingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj, msg });
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

async function caught(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected a StintError');
}

/** The StintError `fn` throws; fails the test when it throws nothing or something else. */
function caughtSync(fn: () => unknown): StintError {
  try {
    fn();
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected a StintError');
}

async function loginError(url: string): Promise<string | null> {
  try {
    const c = await connectAs(url);
    await c.end();
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

function sessionEnded(client: pg.Client): Promise<void> {
  return new Promise((resolve) => {
    client.once('error', () => resolve());
    client.once('end', () => resolve());
  });
}

describe('postgres provider (scram-sha-256 cluster, least-privileged stint_admin)', () => {
  const logs: LogLine[] = [];
  let target: CredentialProvider;
  let provider: ReturnType<typeof calls>;
  let root: pg.Client;

  const rolesNamed = async (name: string) =>
    (await root.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rows.length;
  const sessionsOf = async (name: string) =>
    (await root.query('SELECT 1 FROM pg_stat_activity WHERE usename = $1', [name])).rows.length;

  beforeAll(async () => {
    target = postgresProvider('test-db', { adminUrl: cluster.stintAdminUrl }, capturingLogger(logs));
    provider = calls(target);
    root = await connectAs(pgUrl(cluster, 'postgres', new URL(cluster.superuserUrl).password, 'app'));
  });
  afterAll(async () => {
    await target?.close();
    await root?.end();
  });

  // Read may SELECT and not INSERT (exactly the role's privileges): the contract suite.
  it('issues a login to the configured database; read cannot SET ROLE to admin, admin can write', async () => {
    const read = await provider.issue({
      requestId: newId(),
      requester: 'alice',
      role: 'read',
      grants: ['app_read'],
      expiresAt: IN_AN_HOUR(),
    });
    expect(read.secret).toMatchObject({
      username: read.principal,
      host: cluster.host,
      port: String(cluster.port),
      database: 'app',
    });
    expect(read.secret.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(read.secret.url).toBe(pgUrl(cluster, read.principal, read.secret.password as string, 'app'));

    const reader = await connectAs(read.secret.url as string);
    await expect(reader.query('SET ROLE app_admin')).rejects.toMatchObject({ code: '42501' });
    await reader.end();

    const admin = await provider.issue({
      requestId: newId(),
      requester: 'alice',
      role: 'admin',
      grants: ['app_admin'],
      expiresAt: IN_AN_HOUR(),
    });
    const writer = await connectAs(admin.secret.url as string);
    const id = 2000 + Math.floor(Math.random() * 1_000_000);
    await writer.query('INSERT INTO public.accounts VALUES ($1, $2, 1)', [id, 'stint-test']);
    await writer.query('DELETE FROM public.accounts WHERE id = $1', [id]);
    await writer.end();

    await provider.revoke(read.principal);
    await provider.revoke(admin.principal);
  });

  it('refuses a wrong password', async () => {
    const cred = await provider.issue({
      requestId: newId(),
      requester: 'a',
      role: 'read',
      grants: ['app_read'],
      expiresAt: IN_AN_HOUR(),
    });
    expect(await loginError(pgUrl(cluster, cred.principal, 'not-the-password'))).toBe('28P01');
    expect(await loginError(cred.secret.url as string)).toBeNull();
    await provider.revoke(cred.principal);
  });

  it('lets PostgreSQL itself refuse new logins once VALID UNTIL has passed', async () => {
    const expiresAt = new Date(Date.now() + 2_000);
    const cred = await provider.issue({
      requestId: newId(),
      requester: 'a',
      role: 'read',
      grants: ['app_read'],
      expiresAt,
    });
    expect(await loginError(cred.secret.url as string)).toBeNull();
    await new Promise((r) => setTimeout(r, expiresAt.getTime() - Date.now() + 300));
    expect(await loginError(cred.secret.url as string)).toBe('28P01');
    await provider.revoke(cred.principal);
  });

  it('revoke ends live sessions, including one that did SET ROLE, and only then drops the role', async () => {
    const cred = await provider.issue({
      requestId: newId(),
      requester: 'a',
      role: 'admin',
      grants: ['app_admin'],
      expiresAt: IN_AN_HOUR(),
    });
    const plain = await connectAs(cred.secret.url as string);
    const elevated = await connectAs(cred.secret.url as string);
    await elevated.query('SET ROLE app_admin');
    expect((await elevated.query('SELECT current_user AS u')).rows[0].u).toBe('app_admin');
    const ended = Promise.all([sessionEnded(plain), sessionEnded(elevated)]);
    expect(await provider.gone(cred.principal)).toBe(false);

    const started = performance.now();
    const revoked = await provider.revoke(cred.principal);
    const ms = performance.now() - started;
    expect(revoked).toEqual({ outcome: 'revoked', sessionsEnded: 2 });

    // Gone by the time revoke resolves, not eventually.
    expect(await sessionsOf(cred.principal)).toBe(0);
    expect(await rolesNamed(cred.principal)).toBe(0);
    await ended;
    await expect(plain.query('SELECT 1')).rejects.toThrow();
    await expect(elevated.query('SELECT 1')).rejects.toThrow();
    expect(await loginError(cred.secret.url as string)).toBe('28P01');
    expect(await provider.gone(cred.principal)).toBe(true);
    expect(ms).toBeLessThan(1_000);
    const line = logs.find(
      (l) =>
        l.msg === 'postgres credential revoked' &&
        (l.obj as { principal?: string }).principal === cred.principal,
    );
    expect(line?.obj).toMatchObject({ sessionsEnded: 2 });
  });

  // Twice in a row and for a name never issued: the contract suite.
  it('revoke is idempotent when callers race', async () => {
    const racing = await provider.issue({
      requestId: newId(),
      requester: 'a',
      role: 'read',
      grants: ['app_read'],
      expiresAt: IN_AN_HOUR(),
    });
    const s = await connectAs(racing.secret.url as string);
    await Promise.all([
      provider.revoke(racing.principal),
      provider.revoke(racing.principal),
      provider.revoke(racing.principal),
    ]);
    await s.end().catch(() => {});
    expect(await provider.gone(racing.principal)).toBe(true);
  });

  it('revoke still drops the role after the user created tables; ownership goes to the granted role', async () => {
    const cred = await provider.issue({
      requestId: newId(),
      requester: 'a',
      role: 'admin',
      grants: ['app_admin'],
      expiresAt: IN_AN_HOUR(),
    });
    const suffix = cred.principal.slice(-10);
    const own = `own_${suffix}`;
    const team = `team_${suffix}`;
    const s = await connectAs(cred.secret.url as string);
    await s.query(`CREATE TABLE public.${own} (id int)`);
    await s.query(`GRANT SELECT ON public.${own} TO app_read`);
    await s.query('SET ROLE app_admin');
    await s.query(`CREATE TABLE public.${team} (id int)`);
    await s.query(`CREATE TEMP TABLE scratch (id int)`);

    await provider.revoke(cred.principal);

    expect(await rolesNamed(cred.principal)).toBe(0);
    const { rows } = await root.query<{ tablename: string; tableowner: string }>(
      'SELECT tablename, tableowner FROM pg_tables WHERE tablename = ANY($1) ORDER BY tablename',
      [[own, team]],
    );
    expect(rows).toEqual([
      { tablename: own, tableowner: 'app_admin' },
      { tablename: team, tableowner: 'app_admin' },
    ]);
    await root.query(`DROP TABLE public.${own}, public.${team}`);
  });

  it('revoke gives what a role with no grants made to stint_admin', async () => {
    const cred = await provider.issue({
      requestId: newId(),
      requester: 'a',
      role: 'none',
      grants: [],
      expiresAt: IN_AN_HOUR(),
    });
    const s = await connectAs(cred.secret.url as string);
    await s.query('CREATE TEMP TABLE t (id int)');
    await provider.revoke(cred.principal);
    expect(await provider.gone(cred.principal)).toBe(true);
  });

  it('listOwned finds issued roles and nothing else named stint_', async () => {
    const requestId = newId();
    const cred = await provider.issue({
      requestId,
      requester: 'a',
      role: 'read',
      grants: ['app_read'],
      expiresAt: IN_AN_HOUR(),
    });
    const impostor = principalFor(newId('impostor'));
    await root.query(`CREATE ROLE ${pg.escapeIdentifier(impostor)} NOLOGIN`);

    const owned = await provider.listOwned();
    expect(owned).toContainEqual({ principal: cred.principal, requestId, claim: 'store' });
    const names = owned.map((o) => o.principal);
    expect(names).not.toContain(impostor);
    expect(names).not.toContain('stint_admin');

    // Revoke never touches a role Stint did not make, even under a Stint-shaped name.
    const err = await caught(provider.revoke(impostor));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(await rolesNamed(impostor)).toBe(1);
    await expect(caught(provider.revoke('app_admin'))).resolves.toMatchObject({ code: 'PROVIDER_ERROR' });
    expect(await rolesNamed('app_admin')).toBe(1);

    await provider.revoke(cred.principal);
    expect((await provider.listOwned()).map((o) => o.principal)).not.toContain(cred.principal);
    await root.query(`DROP ROLE ${pg.escapeIdentifier(impostor)}`);
  });

  // That it fails with nothing left behind: the contract suite (an issue the target refuses part-way).
  it('an issue refused for an unknown granted role names it, and quotes no password or SCRAM verifier', async () => {
    const err = await caught(
      provider.issue({
        requestId: newId(),
        requester: 'a',
        role: 'admin',
        grants: ['app_read', 'no_such_role'],
        expiresAt: IN_AN_HOUR(),
      }),
    );
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message).toContain('no_such_role');
    expect(err.message).not.toMatch(/SCRAM-SHA-256|PASSWORD/i);
  });

  it('refuses to grant roles that would let the user make roles outliving the revoke', async () => {
    for (const grant of ['stint_admin', 'app_admin_with_createrole']) {
      if (grant !== 'stint_admin') {
        await root.query(`DROP ROLE IF EXISTS ${grant}`);
        await root.query(`CREATE ROLE ${grant} NOLOGIN CREATEROLE`);
      }
      const requestId = newId();
      const err = await caught(
        provider.issue({
          requestId,
          requester: 'a',
          role: 'x',
          grants: ['app_read', grant],
          expiresAt: IN_AN_HOUR(),
        }),
      );
      expect(err.code).toBe('PROVIDER_ERROR');
      expect(err.message).toContain(grant);
      expect(await rolesNamed(principalFor(requestId))).toBe(0);
    }
    await root.query('DROP ROLE app_admin_with_createrole');
  });

  it('re-issuing for the same request replaces the leftover; another request with a clashing name is refused', async () => {
    const requestId = newId('Retry');
    const first = await provider.issue({
      requestId,
      requester: 'a',
      role: 'read',
      grants: ['app_read'],
      expiresAt: IN_AN_HOUR(),
    });
    const second = await provider.issue({
      requestId,
      requester: 'a',
      role: 'read',
      grants: ['app_read'],
      expiresAt: IN_AN_HOUR(),
    });
    expect(second.principal).toBe(first.principal);
    expect(await loginError(first.secret.url as string)).toBe('28P01');
    expect(await loginError(second.secret.url as string)).toBeNull();

    // Same name after sanitising (case), different request: the live credential must survive.
    const err = await caught(
      provider.issue({
        requestId: requestId.toLowerCase(),
        requester: 'b',
        role: 'read',
        grants: ['app_read'],
        expiresAt: IN_AN_HOUR(),
      }),
    );
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(await loginError(second.secret.url as string)).toBeNull();
    await provider.revoke(second.principal);
  });

  it('never lets the issued password into logs', async () => {
    const before = logs.length;
    const cred = await provider.issue({
      requestId: newId(),
      requester: 'a',
      role: 'read',
      grants: ['app_read'],
      expiresAt: IN_AN_HOUR(),
    });
    await provider.revoke(cred.principal);
    const written = JSON.stringify(logs.slice(before));
    expect(written).toContain(cred.principal);
    expect(written).not.toContain(cred.secret.password as string);
    expect(written).not.toContain('SCRAM-SHA-256');
  });

  it('a target that is down fails fast with PROVIDER_ERROR and no password in the message', async () => {
    const target = postgresProvider('down-db', {
      adminUrl: 'postgres://stint_admin:s3cret-admin-pw@127.0.0.1:1/app',
    });
    const down = calls(target);
    try {
      const started = Date.now();
      // Each call made when it is awaited: a call made early that fails first would be an unhandled rejection.
      for (const op of [
        () => down.ping(),
        () =>
          down.issue({
            requestId: newId(),
            requester: 'a',
            role: 'read',
            grants: ['app_read'],
            expiresAt: IN_AN_HOUR(),
          }),
        () => down.revoke(principalFor(newId())),
        () => down.listOwned(),
        () => down.gone(principalFor(newId())),
      ]) {
        const err = await caught(op());
        expect(err.code).toBe('PROVIDER_ERROR');
        expect(err.message).toContain('down-db');
        expect(err.message).not.toContain('s3cret-admin-pw');
      }
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      await target.close();
    }
  });

  it('a wrong admin password fails with PROVIDER_ERROR and does not echo it', async () => {
    const url = new URL(cluster.stintAdminUrl);
    url.password = 'wrong-admin-pw';
    const wrong = postgresProvider('bad-auth', { adminUrl: url.toString() });
    try {
      const err = await caught(wrong.ping({}, NO_CANCEL));
      expect(err.code).toBe('PROVIDER_ERROR');
      expect(err.message).toContain('28P01');
      expect(err.message).not.toContain('wrong-admin-pw');
    } finally {
      await wrong.close();
    }
  });

  it('rejects an admin URL that is not postgres:// as a configuration error, without echoing it', () => {
    const cases = [
      ['mysql://u:pw-123456@h/db', 'admin connection must be a postgres:// URL'],
      ['not a url pw-123456', 'admin connection is not a valid URL'],
    ] as const;
    for (const [adminUrl, message] of cases) {
      const err = caughtSync(() => parsePostgresConfig('x', { adminUrl }));
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toBe(`resource x: ${message}`);
      expect(err.message).not.toContain('pw-123456');
    }
  });

  it('uses the public host and port in the secret when given', async () => {
    const proxied = postgresProvider('proxied', {
      adminUrl: cluster.stintAdminUrl,
      publicHost: 'db.example.com',
      publicPort: 6432,
    });
    try {
      const cred: IssueResult = await proxied.issue(
        {
          requestId: newId(),
          requester: 'a',
          role: 'read',
          grants: ['app_read'],
          expiresAt: IN_AN_HOUR(),
        },
        NO_CANCEL,
      );
      expect(cred.secret).toMatchObject({ host: 'db.example.com', port: '6432' });
      expect(cred.secret.url).toMatch(
        /^postgres:\/\/stint_[a-z0-9_]+:[A-Za-z0-9_-]+@db\.example\.com:6432\/app$/,
      );
      await proxied.revoke({ principal: cred.principal }, NO_CANCEL);
    } finally {
      await proxied.close();
    }
  });

  it('cancelled just after COMMIT went out, with the outcome unknown: the issue is undone, nothing is left', async () => {
    const requestId = newId('commit');
    const controller = new AbortController();
    const query = pg.Client.prototype.query;
    // Cut the call the moment the COMMIT is on the wire (it ends the one message the transaction is sent in):
    // the server may well commit it.
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const sent = (query as (...a: unknown[]) => unknown).apply(this, args);
      if (typeof args[0] === 'string' && /\bCOMMIT$/.test(args[0])) controller.abort();
      return sent;
    } as typeof query;
    let err: StintError;
    try {
      err = await caught(
        target.issue(
          { requestId, requester: 'a', role: 'read', grants: ['app_read'], expiresAt: IN_AN_HOUR() },
          controller.signal,
        ),
      );
    } finally {
      pg.Client.prototype.query = query;
    }
    expect(isCancelled(err)).toBe(true);
    expect(err.message).toMatch(/cancelled/);
    expect(await rolesNamed(principalFor(requestId))).toBe(0);
  });

  it('a revoke against a database that no longer exists is a permanent failure', async () => {
    const db = `stint_gone_${randomBytes(4).toString('hex')}`;
    await root.query(`CREATE DATABASE ${db}`);
    const url = new URL(cluster.stintAdminUrl);
    url.pathname = `/${db}`;
    const doomed = postgresProvider('gone-db', { adminUrl: url.toString() });
    try {
      const cred = await doomed.issue(
        { requestId: newId(), requester: 'a', role: 'read', grants: ['app_read'], expiresAt: IN_AN_HOUR() },
        NO_CANCEL,
      );
      await root.query(`DROP DATABASE ${db} WITH (FORCE)`);
      const err = await caught(doomed.revoke({ principal: cred.principal }, NO_CANCEL));
      expect(err.code).toBe('PROVIDER_ERROR');
      expect(err.details).toMatchObject({ sqlstate: '3D000', permanent: true });
      expect(isPermanentFailure(err)).toBe(true);
      // Roles are cluster-wide: it outlived its database, which is why an abandoned revocation alerts a person.
      expect(await rolesNamed(cred.principal)).toBe(1);
      await provider.revoke(cred.principal);
    } finally {
      await doomed.close();
      await root.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    }
  });

  // A target that is down is not permanent: the contract suite (target down at revoke).
  it('a name Stint never makes is refused as a permanent failure', async () => {
    expect(isPermanentFailure(await caught(provider.revoke('app_admin')))).toBe(true);
  });
});

describe('principal names', () => {
  it('are stint_ + the sanitised request id, deterministic', () => {
    expect(principalFor('req_01HZX')).toBe('stint_req_01hzx');
    expect(principalFor('Req-42/x y;DROP')).toBe('stint_req_42_x_y_drop');
    expect(principalFor('abc')).toBe(principalFor('abc'));
  });

  it('fit in 63 bytes and keep long ids apart with a hash', () => {
    const long = 'r'.repeat(80);
    const a = principalFor(`${long}a`);
    const b = principalFor(`${long}b`);
    expect(a).toHaveLength(63);
    expect(b).toHaveLength(63);
    expect(a).not.toBe(b);
    expect(isPrincipalName(a)).toBe(true);
  });

  it('are always valid for every id', () => {
    for (const id of ['', 'é', '💥', '"; DROP ROLE postgres; --', 'x'.repeat(1000), 'ABC-def_123']) {
      expect(isPrincipalName(principalFor(id))).toBe(true);
    }
  });

  it('only Stint-shaped names count', () => {
    expect(isPrincipalName('stint_abc')).toBe(true);
    expect(isPrincipalName('app_admin')).toBe(false);
    expect(isPrincipalName('stint_ABC')).toBe(false);
    expect(isPrincipalName('stint_')).toBe(false);
  });
});
