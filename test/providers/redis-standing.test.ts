import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../src/policy/policy-types.js';
import {
  type CredentialProvider,
  NO_CANCEL,
  type StandingPrincipal,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { type RedisTarget, startRedis } from '../support/redis-server.js';

/**
 * The standing-access inventory on this file's own redis-server (aclfile, `default` off, the documented
 * stint_admin), read as stint_admin: users made by hand beside users two Stint stores issued.
 */
const owner = (): TargetOwner => ({
  deployment: 'standing-test',
  storeId: `st_${randomBytes(8).toString('hex')}`,
});
const resource: Resource = {
  id: 'standing-redis',
  kind: 'redis',
  description: 'inventory target',
  sensitivity: 'critical',
  connection: { env: 'STINT_STANDING_REDIS_URL' },
  options: {},
  roles: { read: { name: 'read', description: '', grants: ['+@read', '~app:*'] } },
};
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const passwords = {
  ops: randomBytes(18).toString('base64url'),
  reader: randomBytes(18).toString('base64url'),
  selector: randomBytes(18).toString('base64url'),
  disabled: randomBytes(18).toString('base64url'),
};

let redis: RedisTarget;
let root: Redis;
let mine: CredentialProvider;
let theirs: CredentialProvider;
const issued: { provider: CredentialProvider; principal: string; password: string }[] = [];

beforeAll(async () => {
  redis = await startRedis();
  root = await redis.root();
  await root.call('ACL', 'SETUSER', 'ops', 'on', `>${passwords.ops}`, '~*', '&*', '+@all');
  await root.call('ACL', 'SETUSER', 'reader', 'on', `>${passwords.reader}`, '~app:*', '+@read');
  await root.call('ACL', 'SETUSER', 'anyone', 'on', 'nopass', '~cache:*', '+get');
  await root.call(
    'ACL',
    'SETUSER',
    'selective',
    'on',
    `>${passwords.selector}`,
    '~a:*',
    '+get',
    '(+config|get ~b:*)',
  );
  await root.call('ACL', 'SETUSER', 'retired', 'off', `>${passwords.disabled}`, '~*', '+@all');
  const env = { STINT_STANDING_REDIS_URL: redis.adminUrl };
  mine = createProvider(resource, env, { owner: owner() });
  theirs = createProvider(resource, env, { owner: owner() });
  for (const provider of [mine, theirs]) {
    const cred = await provider.issue(
      {
        requestId: `standing-${randomBytes(5).toString('hex')}`,
        requester: 'alice',
        role: 'read',
        grants: ['+@read', '~app:*'],
        expiresAt: new Date(Date.now() + 3_600_000),
      },
      NO_CANCEL,
    );
    issued.push({ provider, principal: cred.principal, password: cred.secret.password as string });
  }
});

afterAll(async () => {
  for (const i of issued) await i.provider.revoke({ principal: i.principal }, NO_CANCEL).catch(() => {});
  await mine?.close();
  await theirs?.close();
  await redis?.stop();
});

async function inventory(): Promise<StandingPrincipal[]> {
  const list = mine.listStanding;
  if (!list) throw new Error('the redis provider has no listStanding');
  return (await list({ grants: ['+@read', '~app:*'] }, NO_CANCEL)).principals;
}
const entry = (all: StandingPrincipal[], principal: string) => all.find((p) => p.principal === principal);

describe('redis standing-access inventory', () => {
  it('lists every enabled user Stint did not make, with its rules and why', async () => {
    const all = await inventory();
    expect(entry(all, 'ops')).toMatchObject({ privileges: ['+@all', '~*', '&*'] });
    expect(entry(all, 'ops')?.reason).toMatch(/runs every command/);
    expect(entry(all, 'reader')?.privileges).toEqual(['-@all +@read', '~app:*']);
    expect(entry(all, 'reader')?.reason).toMatch(/standing ACL user/);
    expect(entry(all, 'anyone')?.privileges).toContain('nopass');
    expect(entry(all, 'anyone')?.reason).toMatch(/any password, or none/);
    expect(entry(all, 'selective')?.privileges).toContain('(-@all +config|get ~b:*)');
    expect(entry(all, 'selective')?.reason).toMatch(/administrative/);
    expect(entry(all, 'test_root')?.privileges).toContain('+@all');
  });

  it('leaves out disabled users (default is off here)', async () => {
    const names = (await inventory()).map((p) => p.principal);
    expect(names).not.toContain('retired');
    expect(names).not.toContain('default');
  });

  it('never lists what Stint issued, this store’s or another’s, and no password or hash appears', async () => {
    const text = JSON.stringify(await inventory());
    for (const i of issued) {
      expect(text).not.toContain(i.principal);
      expect(text).not.toContain(i.password);
      expect(text).not.toContain(sha256(i.password));
    }
    for (const p of [...Object.values(passwords), redis.adminPassword]) {
      expect(text).not.toContain(p);
      expect(text).not.toContain(sha256(p));
    }
    // Whatever ACL GETUSER answered about passwords is gone, not only the ones this test knows.
    expect(text).not.toMatch(/[0-9a-f]{64}/);
    expect(text).not.toContain('passwords');
  });

  it('names Stint’s own admin user as what it is', async () => {
    const admin = entry(await inventory(), 'stint_admin');
    expect(admin?.privileges[0]).toMatch(/\+acl\|setuser/);
    expect(admin?.detail).toEqual({ stintAdmin: true });
    expect(admin?.reason).toMatch(/^Stint's own admin user.*administrative/);
  });
});
