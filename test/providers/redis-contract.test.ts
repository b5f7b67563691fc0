import { createHash, randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import type { Resource } from '../../src/policy/policy-types.js';
import { redisKind } from '../../src/providers/redis/index.js';
import { createProvider } from '../../src/providers/registry.js';
import { connectRedis, startRedis } from '../support/redis-server.js';
import { providerContract } from './contract.js';

// Started per file rather than in the global setup: the server is cheap (~20 ms), and the crash suite needs its
// admin URL when the describe blocks are collected, before any beforeAll runs.
const redis = await startRedis();
afterAll(() => redis.stop());

const resource: Resource = {
  id: 'contract-redis',
  kind: 'redis',
  description: 'the contract suite’s target',
  sensitivity: 'critical',
  connection: { env: 'STINT_CONTRACT_REDIS_URL' },
  options: {},
  roles: { read: { name: 'read', description: '', grants: ['+@read', '~app:*'] } },
};

/** The file's own redis-server with ACLs on, reached as the documented least-privileged stint_admin. */
providerContract('redis', {
  kind: redisKind,
  networked: true,
  server: {
    resourceYaml: `  - id: crash-target
    kind: redis
    sensitivity: routine
    connection: { env: STINT_CONTRACT_REDIS_URL }
    roles:
      use: { grants: ['+@read', '~app:*'] }`,
    env: { STINT_CONTRACT_REDIS_URL: redis.adminUrl },
  },
  fixture: async () => {
    const root = await redis.root();
    return {
      endpoint: { host: redis.host, port: redis.port },
      grants: ['+@read', '~app:*'],
      unknownGrant: '+nosuchcommand',
      makeProvider(owner, via) {
        const url = new URL(redis.adminUrl);
        if (via) {
          url.hostname = via.host;
          url.port = String(via.port);
        }
        return createProvider(resource, { STINT_CONTRACT_REDIS_URL: url.toString() }, { owner });
      },
      async openSession(secret) {
        const client = await connectRedis(
          secret.host as string,
          Number(secret.port),
          secret.username as string,
          secret.password as string,
        );
        return {
          doGranted: () => client.get('app:contract'),
          doUngranted: () => client.set('app:contract', 'written'),
          alive: () =>
            client.get('app:contract').then(
              () => true,
              () => false,
            ),
          close: async () => client.disconnect(),
        };
      },
      async principalExists(principal) {
        return (await root.call('ACL', 'GETUSER', principal)) !== null;
      },
      async makeStanding() {
        const user = `standing_ops_${randomBytes(4).toString('hex')}`;
        const password = randomBytes(18).toString('base64url');
        await root.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all');
        return {
          principal: user,
          privilege: '+@all',
          secrets: [password, createHash('sha256').update(password).digest('hex')],
          drop: async () => void (await root.call('ACL', 'DELUSER', user)),
        };
      },
      close: async () => root.disconnect(),
    };
  },
});
