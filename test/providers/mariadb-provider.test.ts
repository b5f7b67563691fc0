import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import type { Logger } from '../../src/logger.js';
import { silentLogger } from '../../src/logger.js';
import { instrumentProvider } from '../../src/providers/instrument.js';
import { type MariaDbConfigInput, parseMariaDbConfig } from '../../src/providers/mariadb/mariadb-config.js';
import { createMariaDbProvider } from '../../src/providers/mariadb/mariadb-provider.js';
import { nativePasswordHash } from '../../src/providers/mariadb/native-password.js';
import { principalFor } from '../../src/providers/mariadb/principal-name.js';
import {
  type CredentialProvider,
  failureClass,
  type IssueRequest,
  isCancelled,
  NO_CANCEL,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { documentedAdminSetup, type MariaDbServer, startMariaDb } from '../support/mariadb-server.js';
import { waitFor } from '../support/pg-client.js';

const newOwner = (deployment = 'mdb-provider-test'): TargetOwner => ({
  deployment,
  storeId: `st_${randomBytes(8).toString('hex')}`,
});
const OWNER = newOwner();
const IN_AN_HOUR = () => new Date(Date.now() + 3_600_000);
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

/** A MariaDB provider as the registry makes it: inside the wrapper, which scrubs the admin URL's secrets. */
function mariadbProvider(
  resourceId: string,
  input: MariaDbConfigInput,
  opts: { owner?: TargetOwner; logger?: Logger } = {},
): CredentialProvider {
  const config = parseMariaDbConfig(resourceId, input);
  const logger = opts.logger;
  const inner = createMariaDbProvider({ config, owner: opts.owner ?? OWNER, ...(logger ? { logger } : {}) });
  return instrumentProvider(inner, {
    resource: resourceId,
    logger: logger ?? silentLogger,
    secrets: config.secrets,
  });
}

function request(over: Partial<IssueRequest> = {}): IssueRequest {
  return {
    requestId: newId(),
    requester: 'alice',
    role: 'read',
    grants: ['app_read'],
    expiresAt: IN_AN_HOUR(),
    ...over,
  };
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

/** Opens a session as an issued credential; an idle session the server kills must not end the test run. */
async function login(url: string): Promise<mysql.Connection> {
  const c = await mysql.createConnection({ uri: url, connectTimeout: 3_000 });
  (c as unknown as { connection: { on(e: string, f: () => void): void } }).connection.on('error', () => {});
  return c;
}

/** The server's error number for a refused login, or null when the login works. */
async function loginError(url: string): Promise<number | null> {
  try {
    const c = await login(url);
    await c.end();
    return null;
  } catch (e) {
    return (e as { errno?: number }).errno ?? -1;
  }
}

const alive = (c: mysql.Connection) =>
  c.query('SELECT 1').then(
    () => true,
    () => false,
  );

describe('mariadb provider (own mariadbd with real passwords, least-privileged stint_admin)', () => {
  let server: MariaDbServer;
  let root: mysql.Connection;
  let provider: CredentialProvider;
  const logs: LogLine[] = [];

  const count = async (sql: string, params: unknown[]) => {
    const [rows] = await root.query<mysql.RowDataPacket[]>(sql, params);
    return rows.length;
  };
  const accounts = (user: string) => count('SELECT 1 FROM mysql.user WHERE User = ?', [user]);
  const marks = (user: string) => count('SELECT 1 FROM stint_meta.principals WHERE user = ?', [user]);
  const events = (user: string) =>
    count("SELECT 1 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'stint_meta' AND EVENT_NAME = ?", [
      `expire_${user}`,
    ]);
  const sessions = (user: string) =>
    count('SELECT 1 FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
  /** Nothing of the account is left on the target: no account, mark, EVENT or connection. */
  const nothingLeft = async (user: string) => {
    expect({
      accounts: await accounts(user),
      marks: await marks(user),
      events: await events(user),
      sessions: await sessions(user),
    }).toEqual({ accounts: 0, marks: 0, events: 0, sessions: 0 });
  };

  beforeAll(async () => {
    server = await startMariaDb();
    root = await server.root();
    provider = mariadbProvider(
      'test-mdb',
      { adminUrl: server.stintAdminUrl },
      { logger: capturingLogger(logs) },
    );
  });
  afterAll(async () => {
    await provider?.close();
    await root?.end();
    await server?.stop();
  });

  it('issues an account that starts in its role: read can SELECT but not INSERT; the server holds only the hash', async () => {
    const cred = await provider.issue(request(), NO_CANCEL);
    expect(cred.principal).toMatch(/^stint_req_[0-9a-f]{10}$/);
    expect(cred.secret).toMatchObject({
      username: cred.principal,
      host: server.host,
      port: String(server.port),
      database: 'app',
    });
    expect(cred.secret.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cred.secret.url).toBe(
      `mysql://${cred.principal}:${cred.secret.password}@${server.host}:${server.port}/app`,
    );

    const s = await login(cred.secret.url as string);
    const [[who]] = await s.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u, CURRENT_ROLE() AS r');
    expect(who).toEqual({ u: `${cred.principal}@%`, r: 'app_read' });
    const [[n]] = await s.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM app.accounts');
    expect(Number(n?.n)).toBeGreaterThanOrEqual(3);
    await expect(s.query("INSERT INTO app.accounts VALUES (1000, 'x', 1)")).rejects.toMatchObject({
      errno: 1142,
    });
    // Only the role it was given: it cannot switch to another.
    await expect(s.query('SET ROLE app_admin')).rejects.toMatchObject({ errno: 1959 });
    await s.end();

    const [[stored]] = await root.query<mysql.RowDataPacket[]>(
      "SELECT JSON_VALUE(Priv, '$.authentication_string') AS h FROM mysql.global_priv WHERE User = ?",
      [cred.principal],
    );
    expect(stored?.h).toBe(nativePasswordHash(cred.secret.password as string));
    // The hash Stint sends is the one the server itself would compute from the password.
    const [[computed]] = await root.query<mysql.RowDataPacket[]>('SELECT PASSWORD(?) AS h', [
      cred.secret.password,
    ]);
    expect(computed?.h).toBe(stored?.h);
    expect(
      await loginError((cred.secret.url as string).replace(cred.secret.password as string, 'wrong-password')),
    ).toBe(1045);

    const [[mark]] = await root.query<mysql.RowDataPacket[]>(
      'SELECT host, store_id, deployment, request_id FROM stint_meta.principals WHERE user = ?',
      [cred.principal],
    );
    expect(mark).toMatchObject({ host: '%', store_id: OWNER.storeId, deployment: OWNER.deployment });
    expect(await events(cred.principal)).toBe(1);

    await provider.revoke({ principal: cred.principal }, NO_CANCEL);
    await nothingLeft(cred.principal);
  });

  it('admin role: the issued account can write', async () => {
    const cred = await provider.issue(request({ role: 'admin', grants: ['app_admin'] }), NO_CANCEL);
    const s = await login(cred.secret.url as string);
    const id = 2000 + Math.floor(Math.random() * 1_000_000);
    await s.query("INSERT INTO app.accounts VALUES (?, 'stint-test', 1)", [id]);
    await s.query('DELETE FROM app.accounts WHERE id = ?', [id]);
    await s.end();
    await provider.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('revoke kills every connection of the account, then nothing of it remains', async () => {
    const cred = await provider.issue(request(), NO_CANCEL);
    const a = await login(cred.secret.url as string);
    const b = await login(cred.secret.url as string);
    expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(false);

    const revoked = await provider.revoke({ principal: cred.principal }, NO_CANCEL);
    expect(revoked).toEqual({ outcome: 'revoked', sessionsEnded: 2 });
    // Gone by the time revoke resolves, not eventually.
    expect(await alive(a)).toBe(false);
    expect(await alive(b)).toBe(false);
    await nothingLeft(cred.principal);
    expect(await loginError(cred.secret.url as string)).toBe(1045);
    expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
    const line = logs.find(
      (l) =>
        l.msg === 'mariadb credential revoked' &&
        (l.obj as { principal?: string }).principal === cred.principal,
    );
    expect(line?.obj).toMatchObject({ sessionsEnded: 2 });
  });

  it('verifyRevoked is not fooled by a refused login still leaving the process list', async () => {
    const cred = await provider.issue(request(), NO_CANCEL);
    await provider.revoke({ principal: cred.principal }, NO_CANCEL);
    // A refused login lingers under the tried name for a moment, rarely and more under load (1 in 200 in one
    // measurement): a regression check that catches it only when the timing falls that way.
    for (let i = 0; i < 200; i++) {
      expect(await loginError(cred.secret.url as string)).toBe(1045);
      expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
    }
  });

  it('logins racing the revoke: none survives it', async () => {
    const cred = await provider.issue(request(), NO_CANCEL);
    const opened: mysql.Connection[] = [];
    let stop = false;
    // Keep logging in while the revoke runs: some logins land during the drop.
    const storm = Array.from({ length: 4 }, async () => {
      while (!stop) {
        try {
          opened.push(await login(cred.secret.url as string));
        } catch {
          // Refused once the account is dropped: the storm goes on until the revoke answers.
        }
      }
    });
    await waitFor(async () => (opened.length >= 4 ? true : null));
    const revoked = await provider.revoke({ principal: cred.principal }, NO_CANCEL);
    stop = true;
    await Promise.all(storm);
    expect(revoked.outcome).toBe('revoked');
    for (const c of opened) expect(await alive(c)).toBe(false);
    await nothingLeft(cred.principal);
  });

  it('two grants of one person on one resource are two accounts: revoking one leaves the other working', async () => {
    const first = await provider.issue(request({ requester: 'alice' }), NO_CANCEL);
    const second = await provider.issue(request({ requester: 'alice' }), NO_CANCEL);
    expect(second.principal).not.toBe(first.principal);
    const s1 = await login(first.secret.url as string);
    const s2 = await login(second.secret.url as string);
    await provider.revoke({ principal: first.principal }, NO_CANCEL);
    expect(await alive(s1)).toBe(false);
    expect(await alive(s2)).toBe(true);
    expect(await loginError(second.secret.url as string)).toBeNull();
    await s2.end();
    await provider.revoke({ principal: second.principal }, NO_CANCEL);
  });

  it('a role the target refuses after CREATE USER: the account, its mark and its EVENT are undone', async () => {
    const requestId = newId();
    const err = await caught(provider.issue(request({ requestId, grants: ['no_such_role'] }), NO_CANCEL));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message).toContain('no_such_role');
    expect(err.message).not.toMatch(/\*[0-9A-F]{40}|IDENTIFIED/);
    await nothingLeft(principalFor(requestId));
  });

  it('refuses more or fewer than one role before touching the target', async () => {
    for (const grants of [['app_read', 'app_admin'], []]) {
      const requestId = newId();
      const err = await caught(provider.issue(request({ requestId, grants }), NO_CANCEL));
      expect(err.message).toMatch(/exactly one role/);
      expect(failureClass(err)).toBe('refused');
      await nothingLeft(principalFor(requestId));
    }
  });

  it('cancelled with CREATE USER on the wire (outcome unknown): its thread is waited out and everything undone', async () => {
    const requestId = newId('cut');
    const controller = new AbortController();
    const proto = mysql.Connection.prototype as unknown as { query: (...a: unknown[]) => unknown };
    const original = proto.query;
    proto.query = function (this: unknown, ...args: unknown[]) {
      const sent = original.apply(this, args);
      if (typeof args[0] === 'string' && args[0].startsWith('CREATE USER')) controller.abort();
      return sent;
    };
    let err: StintError;
    try {
      err = await caught(provider.issue(request({ requestId }), controller.signal));
    } finally {
      proto.query = original;
    }
    expect(isCancelled(err)).toBe(true);
    await nothingLeft(principalFor(requestId));
  });

  it('re-issuing for the same request replaces the leftover; a clashing name of another request is refused', async () => {
    const requestId = newId('Retry');
    const first = await provider.issue(request({ requestId }), NO_CANCEL);
    const second = await provider.issue(request({ requestId }), NO_CANCEL);
    expect(second.principal).toBe(first.principal);
    expect(await loginError(first.secret.url as string)).toBe(1045);
    expect(await loginError(second.secret.url as string)).toBeNull();

    // Same name after lowercasing, another request: the live credential must survive.
    const err = await caught(provider.issue(request({ requestId: requestId.toLowerCase() }), NO_CANCEL));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(await loginError(second.secret.url as string)).toBeNull();
    await provider.revoke({ principal: second.principal }, NO_CANCEL);
  });

  it('never touches an account it did not mark, nor one another store marked; lists only its own', async () => {
    const impostor = principalFor(newId('impostor'));
    await root.query("CREATE USER ?@'%' IDENTIFIED BY 'impostor-password-1'", [impostor]);
    const other = mariadbProvider('test-mdb', { adminUrl: server.stintAdminUrl }, { owner: newOwner() });
    const theirs = await other.issue(request(), NO_CANCEL);
    try {
      for (const principal of [impostor, theirs.principal]) {
        const err = await caught(provider.revoke({ principal }, NO_CANCEL));
        expect(failureClass(err)).toBe('refused');
        expect(await accounts(principal)).toBe(1);
      }
      // Nor is an issue allowed to clear them as leftovers.
      const err = await caught(
        provider.issue(request({ requestId: impostor.slice('stint_'.length) }), NO_CANCEL),
      );
      expect(err.message).toMatch(/not made by this Stint store|another request/);
      expect(await accounts(impostor)).toBe(1);

      const owned = (await provider.listOwned({}, NO_CANCEL)).principals.map((p) => p.principal);
      expect(owned).not.toContain(impostor);
      expect(owned).not.toContain(theirs.principal);
      expect(owned).not.toContain('stint_admin');
      // A non-Stint name is refused outright, for good.
      const bad = await caught(provider.revoke({ principal: 'app_admin' }, NO_CANCEL));
      expect(bad.details).toMatchObject({ permanent: true });
    } finally {
      await other.revoke({ principal: theirs.principal }, NO_CANCEL);
      await other.close();
      await root.query("DROP USER ?@'%'", [impostor]);
    }
  });

  it('listForeign reports accounts another store made under this deployment name, and only those', async () => {
    const sameName = mariadbProvider(
      'test-mdb',
      { adminUrl: server.stintAdminUrl },
      { owner: newOwner(OWNER.deployment) },
    );
    const otherName = mariadbProvider(
      'test-mdb',
      { adminUrl: server.stintAdminUrl },
      { owner: newOwner('elsewhere') },
    );
    const twin = await sameName.issue(request(), NO_CANCEL);
    const stranger = await otherName.issue(request(), NO_CANCEL);
    const mine = await provider.issue(request(), NO_CANCEL);
    try {
      const foreign = (await provider.listForeign({}, NO_CANCEL)).principals;
      expect(foreign.map((f) => f.principal)).toEqual([twin.principal]);
      const owned = (await provider.listOwned({}, NO_CANCEL)).principals;
      expect(owned).toContainEqual({
        principal: mine.principal,
        requestId: expect.any(String),
        claim: 'store',
      });
    } finally {
      await sameName.revoke({ principal: twin.principal }, NO_CANCEL);
      await otherName.revoke({ principal: stranger.principal }, NO_CANCEL);
      await provider.revoke({ principal: mine.principal }, NO_CANCEL);
      await sameName.close();
      await otherName.close();
    }
  });

  it('a mark whose account is gone (dropped by hand) is not listed; revoke clears it and answers absent', async () => {
    const cred = await provider.issue(request(), NO_CANCEL);
    await root.query("DROP USER ?@'%'", [cred.principal]);
    expect((await provider.listOwned({}, NO_CANCEL)).principals.map((p) => p.principal)).not.toContain(
      cred.principal,
    );
    expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
    expect((await provider.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('absent');
    await nothingLeft(cred.principal);
  });

  it('the expiry EVENT drops the account and kills its session at the window’s end, with Stint doing nothing', async () => {
    const expiresAt = new Date(Date.now() + 2_000);
    const withSession = await provider.issue(request({ expiresAt }), NO_CANCEL);
    const without = await provider.issue(request({ expiresAt }), NO_CANCEL);
    const s = await login(withSession.secret.url as string);
    expect(await alive(s)).toBe(true);
    await waitFor(async () => ((await accounts(withSession.principal)) === 0 ? true : null));
    await waitFor(async () => ((await marks(without.principal)) === 0 ? true : null));
    expect(await alive(s)).toBe(false);
    await nothingLeft(withSession.principal);
    await nothingLeft(without.principal);
    expect(await loginError(withSession.secret.url as string)).toBe(1045);
    expect((await provider.revoke({ principal: withSession.principal }, NO_CANCEL)).outcome).toBe('absent');
  });

  it('with event_scheduler OFF: ping says there is no backstop, and issue warns once', async () => {
    await root.query('SET GLOBAL event_scheduler = OFF');
    const lines: LogLine[] = [];
    const p = mariadbProvider(
      'off-mdb',
      { adminUrl: server.stintAdminUrl },
      { logger: capturingLogger(lines) },
    );
    try {
      expect((await p.ping({}, NO_CANCEL)).target).toMatch(
        /^MariaDB 10\..*event_scheduler OFF: no expiry backstop/,
      );
      const a = await p.issue(request(), NO_CANCEL);
      const b = await p.issue(request(), NO_CANCEL);
      const warned = lines.filter((l) => /event_scheduler is not ON/.test(l.msg ?? ''));
      expect(warned).toHaveLength(1);
      await p.revoke({ principal: a.principal }, NO_CANCEL);
      await p.revoke({ principal: b.principal }, NO_CANCEL);
    } finally {
      await root.query('SET GLOBAL event_scheduler = ON');
      await p.close();
    }
    expect((await provider.ping({}, NO_CANCEL)).target).toMatch(/event_scheduler ON\)$/);
  });

  it('a deployment name with a quote and a backslash is stored exactly, also under NO_BACKSLASH_ESCAPES', async () => {
    const [[mode]] = await root.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.sql_mode AS m');
    await root.query("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')");
    const owner = newOwner("o'brien\\ops");
    const p = mariadbProvider('nbe-mdb', { adminUrl: server.stintAdminUrl }, { owner });
    try {
      const cred = await p.issue(request(), NO_CANCEL);
      const [[mark]] = await root.query<mysql.RowDataPacket[]>(
        'SELECT deployment FROM stint_meta.principals WHERE user = ?',
        [cred.principal],
      );
      expect(mark?.deployment).toBe(owner.deployment);
      await p.revoke({ principal: cred.principal }, NO_CANCEL);
      await nothingLeft(cred.principal);
    } finally {
      await root.query('SET GLOBAL sql_mode = ?', [mode?.m]);
      await p.close();
    }
  });

  it('expiryEvent: false makes no EVENT; userHost and connectionLimit shape the account', async () => {
    const p = mariadbProvider('shaped-mdb', {
      adminUrl: server.stintAdminUrl,
      expiryEvent: false,
      userHost: '127.0.0.1',
      connectionLimit: 1,
      publicHost: 'db.example.com',
      publicPort: 13306,
    });
    try {
      const cred = await p.issue(request(), NO_CANCEL);
      expect(cred.secret).toMatchObject({ host: 'db.example.com', port: '13306' });
      expect(await events(cred.principal)).toBe(0);
      const [[row]] = await root.query<mysql.RowDataPacket[]>(
        "SELECT Host, JSON_VALUE(Priv, '$.max_user_connections') AS lim FROM mysql.global_priv WHERE User = ?",
        [cred.principal],
      );
      expect(row).toEqual({ Host: '127.0.0.1', lim: '1' });
      const url = `mysql://${cred.principal}:${cred.secret.password}@${server.host}:${server.port}/app`;
      const s = await login(url);
      expect(await loginError(url)).toBe(1226);
      await p.revoke({ principal: cred.principal }, NO_CANCEL);
      expect(await alive(s)).toBe(false);
      await nothingLeft(cred.principal);
    } finally {
      await p.close();
    }
  });

  it('a wrong admin password is a PROVIDER_ERROR of class auth that does not echo it', async () => {
    const url = new URL(server.stintAdminUrl);
    url.password = 'wrong-admin-pw';
    const wrong = mariadbProvider('bad-auth', { adminUrl: url.toString() });
    try {
      for (const call of [() => wrong.ping({}, NO_CANCEL), () => wrong.issue(request(), NO_CANCEL)]) {
        const err = await caught(call());
        expect(err.code).toBe('PROVIDER_ERROR');
        expect(failureClass(err)).toBe('auth');
        expect(err.message).toContain('bad-auth');
        expect(err.message).toContain('error 1045');
        expect(err.message).not.toContain('wrong-admin-pw');
      }
    } finally {
      await wrong.close();
    }
  });

  /** An admin account made by the documented setup with one right left out, as a provider of this store. */
  async function adminWithout(name: string, edit: (setup: string) => string): Promise<CredentialProvider> {
    const pw = randomBytes(12).toString('base64url');
    const full = documentedAdminSetup()
      .replaceAll("'stint_admin'", `'${name}'`)
      .replace("'change-me'", `'${pw}'`);
    const setup = edit(full);
    expect(setup).not.toBe(full);
    await root.query(setup);
    return mariadbProvider(name, { adminUrl: `mysql://${name}:${pw}@${server.host}:${server.port}/app` });
  }

  it('an admin account missing a documented right for issue: PROVIDER_ERROR of class privilege, nothing left', async () => {
    const cases: [string, (s: string) => string][] = [
      [
        'no_process',
        (s) => s.replace('CREATE USER, PROCESS, CONNECTION ADMIN', 'CREATE USER, CONNECTION ADMIN'),
      ],
      ['no_admin_opt', (s) => s.replace(/GRANT app_read TO .*\n/, '')],
      ['no_insert', (s) => s.replace('SELECT, INSERT, DELETE', 'SELECT, DELETE')],
      ['no_event', (s) => s.replace(/GRANT EVENT ON .*\n/, '')],
    ];
    for (const [name, edit] of cases) {
      const weak = await adminWithout(name, edit);
      try {
        const requestId = newId();
        const err = await caught(weak.issue(request({ requestId }), NO_CANCEL));
        expect({ name, class: failureClass(err) }).toEqual({ name, class: 'privilege' });
        await nothingLeft(principalFor(requestId));
      } finally {
        await weak.close();
        await root.query(`DROP USER '${name}'@'%'`);
      }
    }
  });

  it('an admin account that cannot see or kill sessions never reports a revoke done; the account is dropped anyway', async () => {
    const cases: [string, (s: string) => string][] = [
      [
        'rv_no_process',
        (s) => s.replace('CREATE USER, PROCESS, CONNECTION ADMIN', 'CREATE USER, CONNECTION ADMIN'),
      ],
      [
        'rv_no_conn_admin',
        (s) => s.replace('CREATE USER, PROCESS, CONNECTION ADMIN', 'CREATE USER, PROCESS'),
      ],
    ];
    for (const [name, edit] of cases) {
      const weak = await adminWithout(name, edit);
      const cred = await provider.issue(request(), NO_CANCEL);
      const s = await login(cred.secret.url as string);
      try {
        const err = await caught(weak.revoke({ principal: cred.principal }, NO_CANCEL));
        expect({ name, class: failureClass(err) }).toEqual({ name, class: 'privilege' });
        expect(await accounts(cred.principal)).toBe(0);
        expect(await loginError(cred.secret.url as string)).toBe(1045);
        if (name === 'rv_no_process') {
          const verify = await caught(weak.verifyRevoked({ principal: cred.principal }, NO_CANCEL));
          expect(failureClass(verify)).toBe('privilege');
        }
        // The documented admin finishes it: the session it could not end is ended.
        expect(await alive(s)).toBe(true);
        await provider.revoke({ principal: cred.principal }, NO_CANCEL);
        expect(await alive(s)).toBe(false);
        await nothingLeft(cred.principal);
      } finally {
        await weak.close();
        await root.query(`DROP USER '${name}'@'%'`);
      }
    }
  });

  it('a target that is down fails fast and retryably, with no password in the message', async () => {
    const down = mariadbProvider('down-mdb', {
      adminUrl: 'mysql://stint_admin:s3cret-admin-pw@127.0.0.1:1/app',
    });
    try {
      const started = Date.now();
      for (const op of [
        () => down.ping({}, NO_CANCEL),
        () => down.issue(request(), NO_CANCEL),
        () => down.revoke({ principal: principalFor(newId()) }, NO_CANCEL),
        () => down.listOwned({}, NO_CANCEL),
        () => down.verifyRevoked({ principal: principalFor(newId()) }, NO_CANCEL),
      ]) {
        const err = await caught(op());
        expect(err.code).toBe('PROVIDER_ERROR');
        expect(failureClass(err)).toBe('unreachable');
        expect(err.message).toContain('down-mdb');
        expect(err.message).not.toContain('s3cret-admin-pw');
      }
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      await down.close();
    }
  });

  it('never lets the issued password or its hash into logs', async () => {
    const before = logs.length;
    const cred = await provider.issue(request(), NO_CANCEL);
    await provider.revoke({ principal: cred.principal }, NO_CANCEL);
    const written = JSON.stringify(logs.slice(before));
    expect(written).toContain(cred.principal);
    expect(written).not.toContain(cred.secret.password as string);
    expect(written).not.toContain(nativePasswordHash(cred.secret.password as string));
  });
});
