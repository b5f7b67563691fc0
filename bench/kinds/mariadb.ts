import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { Resource } from '../../src/policy/policy-types.js';
import { nativePasswordHash } from '../../src/providers/mariadb/native-password.js';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { startMariaDb } from '../../test/support/mariadb-server.js';
import { percentile, round } from '../stats.js';
import type { KindFigures } from './figures.js';

const ROLE = 'app_read';

const resource: Resource = {
  id: 'bench-mariadb',
  kind: 'mariadb',
  description: '',
  sensitivity: 'routine',
  connection: { env: 'STINT_BENCH_MDB_URL' },
  options: {},
  roles: { read: { name: 'read', description: '', grants: [ROLE] } },
};

const elapsed = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** The user's first login and read, as a client would make it. */
async function firstUse(
  host: string,
  port: number,
  user: string,
  password: string,
): Promise<mysql.Connection> {
  const c = await mysql.createConnection({ host, port, user, password, database: 'app' });
  // An idle session the server kills emits 'error'; the bench waits for it instead of crashing on it.
  (c as unknown as { connection: { on(e: string, f: () => void): void } }).connection.on('error', () => {});
  await c.query('SELECT COUNT(*) FROM accounts');
  return c;
}

/** Resolves with the instant (hrtime) the server ended the connection: when a revoke killed the session. */
function ended(c: mysql.Connection): Promise<bigint> {
  const core = (c as unknown as { connection: { once(e: string, f: () => void): void } }).connection;
  return new Promise((resolve) => {
    const at = () => resolve(process.hrtime.bigint());
    core.once('error', at);
    core.once('end', at);
  });
}

/**
 * MariaDB: Stint's issue (mark, expiry EVENT, CREATE USER, GRANT, the account's own SET DEFAULT ROLE login) plus
 * the user's first login and read, against the target's own primitive by hand on an open admin connection (CREATE
 * USER + GRANT, then one login that sets the default role and reads), alternated sample by sample on one
 * throwaway mariadbd with real passwords. Revocation lag: from revoke called to the user's open session ended.
 */
export async function measureMariaDb(samples = 30): Promise<KindFigures> {
  const server = await startMariaDb();
  const provider = createProvider(
    resource,
    { STINT_BENCH_MDB_URL: server.stintAdminUrl },
    { owner: { deployment: 'bench', storeId: `st_${randomBytes(8).toString('hex')}` } },
  );
  const url = new URL(server.stintAdminUrl);
  const admin = await mysql.createConnection({
    host: server.host,
    port: server.port,
    user: 'stint_admin',
    password: decodeURIComponent(url.password),
  });
  const issue: number[] = [];
  const primitive: number[] = [];
  const lag: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      let t0 = process.hrtime.bigint();
      const cred = await provider.issue(
        {
          requestId: `req_${randomBytes(8).toString('hex')}`,
          requester: 'bench',
          role: 'read',
          grants: [ROLE],
          expiresAt: new Date(Date.now() + 3_600_000),
        },
        NO_CANCEL,
      );
      const session = await firstUse(
        server.host,
        server.port,
        cred.principal,
        cred.secret.password as string,
      );
      issue.push(elapsed(t0));

      const name = `bench_${randomBytes(6).toString('hex')}`;
      const password = randomBytes(32).toString('base64url');
      t0 = process.hrtime.bigint();
      await admin.query(`CREATE USER ?@'%' IDENTIFIED BY PASSWORD ?`, [name, nativePasswordHash(password)]);
      await admin.query(`GRANT ${ROLE} TO ?@'%'`, [name]);
      const own = await mysql.createConnection({
        host: server.host,
        port: server.port,
        user: name,
        password,
      });
      await own.query(`SET DEFAULT ROLE ${ROLE}`);
      // SET DEFAULT ROLE applies from the next login; this one switches by hand.
      await own.query(`SET ROLE ${ROLE}`);
      await own.query('SELECT COUNT(*) FROM app.accounts');
      primitive.push(elapsed(t0));
      await own.end();
      await admin.query(`DROP USER ?@'%'`, [name]);

      const gone = ended(session);
      t0 = process.hrtime.bigint();
      await provider.revoke({ principal: cred.principal }, NO_CANCEL);
      // The session ends part-way through the revoke (which then clears the EVENT and the mark): time to that.
      lag.push(Number((await gone) - t0) / 1e6);
      await session.end().catch(() => {});
    }
  } finally {
    await admin.end();
    await provider.close();
    await server.stop();
  }
  const p = (xs: number[], q: number) =>
    round(
      percentile(
        [...xs].sort((a, b) => a - b),
        q,
      ),
      2,
    );
  return {
    kind: 'mariadb',
    samples,
    issueP50Ms: p(issue, 50),
    issueP99Ms: p(issue, 99),
    primitive:
      'CREATE USER + GRANT role on an open admin connection, then one login that sets its default role, switches to it and reads',
    primitiveP50Ms: p(primitive, 50),
    revokeLagP50Ms: p(lag, 50),
    revokeLagP99Ms: p(lag, 99),
    notes: [
      'Stint also reads the account state, writes the ownership row and schedules the expiry EVENT, and logs in twice (its own SET DEFAULT ROLE login, then the user’s); the primitive logs in once',
      'revocation lag ends when the server closes the user’s session (after DROP USER, at the first KILL CONNECTION); the revoke call itself returns later, once the process list showed no session twice 10 ms apart and the EVENT and mark are gone',
      'driver: mysql2 (chosen over mariadb by a 50-sample measurement, docs/mariadb-target.md)',
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measureMariaDb(Number(process.argv[2] ?? 30)), null, 2));
}
