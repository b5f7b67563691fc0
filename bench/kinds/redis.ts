import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Resource } from '../../src/policy/policy-types.js';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { connectRedis, startRedis } from '../../test/support/redis-server.js';
import { percentile, round } from '../stats.js';
import type { KindFigures } from './figures.js';

const GRANTS = ['+@read', '~app:*'];

const resource: Resource = {
  id: 'bench-redis',
  kind: 'redis',
  description: '',
  sensitivity: 'routine',
  connection: { env: 'STINT_BENCH_REDIS_URL' },
  options: {},
  roles: { read: { name: 'read', description: '', grants: GRANTS } },
};

const elapsed = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** Resolves when the server has closed the connection: the moment a revoke ended the session. */
const closed = (client: Redis) => new Promise<void>((resolve) => client.once('close', () => resolve()));

/**
 * Redis: Stint's issue (fresh admin connection, leftover check, ACL SETUSER, ACL SAVE) plus the user's first
 * login and read, against the target's own primitive done by hand on an open admin connection (ACL SETUSER +
 * ACL SAVE, then the same login and read), alternated sample by sample on one throwaway redis-server with ACLs on.
 * Revocation lag: from revoke called to the user's open connection closed by the server.
 */
export async function measureRedis(samples = 30): Promise<KindFigures> {
  const redis = await startRedis();
  const provider = createProvider(
    resource,
    { STINT_BENCH_REDIS_URL: redis.adminUrl },
    { owner: { deployment: 'bench', storeId: `st_${randomBytes(8).toString('hex')}` } },
  );
  const admin = await connectRedis(redis.host, redis.port, 'stint_admin', redis.adminPassword);
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
          grants: GRANTS,
          expiresAt: new Date(Date.now() + 3_600_000),
        },
        NO_CANCEL,
      );
      const session = await connectRedis(
        redis.host,
        redis.port,
        cred.principal,
        cred.secret.password as string,
      );
      await session.get('app:bench');
      issue.push(elapsed(t0));

      const name = `bench_${randomBytes(6).toString('hex')}`;
      const password = randomBytes(32).toString('base64url');
      t0 = process.hrtime.bigint();
      const hash = createHash('sha256').update(password).digest('hex');
      await admin.call('ACL', 'SETUSER', name, 'reset', ...GRANTS, `#${hash}`, 'on');
      await admin.call('ACL', 'SAVE');
      const own = await connectRedis(redis.host, redis.port, name, password);
      await own.get('app:bench');
      primitive.push(elapsed(t0));
      own.disconnect();
      await admin.call('ACL', 'DELUSER', name);

      const ended = closed(session);
      t0 = process.hrtime.bigint();
      await provider.revoke({ principal: cred.principal }, NO_CANCEL);
      await ended;
      lag.push(elapsed(t0));
    }
  } finally {
    admin.disconnect();
    await provider.close();
    await redis.stop();
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
    kind: 'redis',
    samples,
    issueP50Ms: p(issue, 50),
    issueP99Ms: p(issue, 99),
    primitive: 'ACL SETUSER + ACL SAVE on an open admin connection, then the first login and GET',
    primitiveP50Ms: p(primitive, 50),
    revokeLagP50Ms: p(lag, 50),
    revokeLagP99Ms: p(lag, 99),
    notes: [
      'Stint opens a fresh admin connection per call (AUTH + HELLO) and checks for a leftover user first; the primitive reuses one open connection',
      'both save the aclfile on every change (ACL SAVE), which is what makes a user survive a restart',
      'revocation lag ends when the server closes the user’s connection (CLIENT KILL USER, then ACL DELUSER)',
      'Redis users have no expiry of their own: there is no target-side backstop to time',
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measureRedis(Number(process.argv[2] ?? 30)), null, 2));
}
