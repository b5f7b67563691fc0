import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Resource } from '../../src/policy/policy-types.js';
import { postgresKind } from '../../src/providers/postgres/index.js';
import { createProvider } from '../../src/providers/registry.js';
import { connectAs, pgUrl } from '../support/pg-cluster.js';
import { providerContract } from './contract.js';

const cluster = inject('pgCluster');

const resource: Resource = {
  id: 'contract-db',
  kind: 'postgres',
  description: 'the contract suite’s target',
  sensitivity: 'critical',
  connection: { env: 'STINT_CONTRACT_PG_URL' },
  options: {},
  roles: { read: { name: 'read', description: '', grants: ['app_read'] } },
};

/** The run's scram-sha-256 cluster, reached as the documented least-privileged stint_admin. */
providerContract('postgres', {
  kind: postgresKind,
  networked: true,
  server: {
    resourceYaml: `  - id: crash-target
    kind: postgres
    sensitivity: routine
    connection: { env: STINT_CONTRACT_PG_URL }
    roles:
      use: { grants: [app_read] }`,
    env: { STINT_CONTRACT_PG_URL: cluster.stintAdminUrl },
  },
  fixture: async () => {
    const root = await connectAs(pgUrl(cluster, 'postgres', new URL(cluster.superuserUrl).password, 'app'));
    return {
      endpoint: { host: cluster.host, port: cluster.port },
      grants: ['app_read'],
      unknownGrant: 'no_such_role',
      makeProvider(owner, via) {
        const url = new URL(cluster.stintAdminUrl);
        if (via) {
          url.hostname = via.host;
          url.port = String(via.port);
        }
        return createProvider(resource, { STINT_CONTRACT_PG_URL: url.toString() }, { owner });
      },
      async openSession(secret) {
        const client = await connectAs(secret.url as string);
        return {
          doGranted: () => client.query('SELECT count(*) FROM public.accounts'),
          doUngranted: () => client.query("INSERT INTO public.accounts VALUES (999999, 'contract', 1)"),
          alive: () =>
            client.query('SELECT 1').then(
              () => true,
              () => false,
            ),
          close: () => client.end().catch(() => {}),
        };
      },
      async principalExists(principal) {
        const { rows } = await root.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [principal]);
        return rows.length > 0;
      },
      async makeStanding() {
        const name = `standing_dba_${randomBytes(4).toString('hex')}`;
        const password = randomBytes(18).toString('base64url');
        await root.query(`CREATE ROLE ${name} LOGIN SUPERUSER PASSWORD ${pg.escapeLiteral(password)}`);
        const { rows } = await root.query<{ verifier: string }>(
          'SELECT rolpassword AS verifier FROM pg_authid WHERE rolname = $1',
          [name],
        );
        return {
          principal: name,
          privilege: 'SUPERUSER',
          secrets: [password, rows[0]?.verifier as string],
          drop: async () => void (await root.query(`DROP ROLE ${name}`)),
        };
      },
      close: () => root.end(),
    };
  },
});
