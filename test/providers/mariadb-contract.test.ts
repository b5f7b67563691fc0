import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll } from 'vitest';
import type { Resource } from '../../src/policy/policy-types.js';
import { mariadbKind } from '../../src/providers/mariadb/index.js';
import { createProvider } from '../../src/providers/registry.js';
import { startMariaDb } from '../support/mariadb-server.js';
import { providerContract } from './contract.js';

// This file's own server, started before the suite is declared: the crash tests' server reads its URL from env.
const server = await startMariaDb();
afterAll(() => server.stop());

const resource: Resource = {
  id: 'contract-mdb',
  kind: 'mariadb',
  description: 'the contract suite’s target',
  sensitivity: 'critical',
  connection: { env: 'STINT_CONTRACT_MDB_URL' },
  options: {},
  roles: { read: { name: 'read', description: '', grants: ['app_read'] } },
};

/** A throwaway mariadbd with real passwords, reached as the documented least-privileged stint_admin. */
providerContract('mariadb', {
  kind: mariadbKind,
  networked: true,
  server: {
    resourceYaml: `  - id: crash-target
    kind: mariadb
    sensitivity: routine
    connection: { env: STINT_CONTRACT_MDB_URL }
    roles:
      use: { grants: [app_read] }`,
    env: { STINT_CONTRACT_MDB_URL: server.stintAdminUrl },
  },
  fixture: async () => {
    const root = await server.root();
    return {
      endpoint: { host: server.host, port: server.port },
      grants: ['app_read'],
      unknownGrant: 'no_such_role',
      makeProvider(owner, via) {
        const url = new URL(server.stintAdminUrl);
        if (via) {
          url.hostname = via.host;
          url.port = String(via.port);
        }
        return createProvider(resource, { STINT_CONTRACT_MDB_URL: url.toString() }, { owner });
      },
      async openSession(secret) {
        const client = await mysql.createConnection({ uri: secret.url as string, connectTimeout: 3_000 });
        // A session the server killed emits 'error' once idle; the next statement reports it.
        (client as unknown as { connection: { on(e: string, f: () => void): void } }).connection.on(
          'error',
          () => {},
        );
        return {
          doGranted: () => client.query('SELECT COUNT(*) FROM app.accounts'),
          doUngranted: () => client.query("INSERT INTO app.accounts VALUES (999999, 'contract', 1)"),
          alive: () =>
            client.query('SELECT 1').then(
              () => true,
              () => false,
            ),
          close: () => client.end().catch(() => {}),
        };
      },
      async principalExists(principal) {
        const [rows] = await root.query<mysql.RowDataPacket[]>('SELECT 1 FROM mysql.user WHERE User = ?', [
          principal,
        ]);
        return rows.length > 0;
      },
      async makeStanding() {
        const user = `standing_dba_${randomBytes(4).toString('hex')}`;
        const password = randomBytes(18).toString('base64url');
        await root.query("CREATE USER ?@'%' IDENTIFIED BY ?", [user, password]);
        await root.query("GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", [user]);
        const [rows] = await root.query<mysql.RowDataPacket[]>(
          'SELECT authentication_string AS hash FROM mysql.user WHERE User = ?',
          [user],
        );
        return {
          principal: `'${user}'@'%'`,
          privilege: 'ALL PRIVILEGES ON *.*',
          secrets: [password, String(rows[0]?.hash)],
          drop: async () => void (await root.query("DROP USER ?@'%'", [user])),
        };
      },
      close: () => root.end(),
    };
  },
});
