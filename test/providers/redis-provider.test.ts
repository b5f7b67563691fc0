import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import type { Resource } from '../../src/policy/policy-types.js';
import {
  type CredentialProvider,
  failureClass,
  isPermanentFailure,
  NO_CANCEL,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { connectRedis, type RedisTarget, startRedis } from '../support/redis-server.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const resource = (grants: string[] = ['+@read', '~app:*']): Resource => ({
  id: 'cache',
  kind: 'redis',
  description: '',
  sensitivity: 'critical',
  connection: { env: 'STINT_TEST_REDIS_URL' },
  options: {},
  roles: { read: { name: 'read', description: '', grants } },
});
const newOwner = (deployment = 'redis-tests'): TargetOwner => ({
  deployment,
  storeId: `st_${randomBytes(8).toString('hex')}`,
});
const newId = () => `req_${randomBytes(8).toString('hex')}`;
const inAnHour = () => new Date(Date.now() + 3_600_000);

async function rejection(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('redis provider against its own redis-server with ACLs on', () => {
  let redis: RedisTarget;
  let root: Redis;
  let owner: TargetOwner;
  let provider: CredentialProvider;
  const make = (o: TargetOwner, url = redis.adminUrl) =>
    createProvider(resource(), { STINT_TEST_REDIS_URL: url }, { owner: o });
  const issue = (p: CredentialProvider, requestId = newId(), grants = ['+@read', '~app:*']) =>
    p.issue({ requestId, requester: 'alice', role: 'read', grants, expiresAt: inAnHour() }, NO_CANCEL);
  const login = (secret: Record<string, string>) =>
    connectRedis(
      secret.host as string,
      Number(secret.port),
      secret.username as string,
      secret.password as string,
    );
  const exists = async (principal: string) => (await root.call('ACL', 'GETUSER', principal)) !== null;

  beforeAll(async () => {
    redis = await startRedis();
    root = await redis.root();
    owner = newOwner();
    provider = make(owner);
  });
  afterAll(async () => {
    await provider?.close();
    await redis?.stop();
  });

  it('names users stint_<deployment>_<store>_<request> and lists them with their request', async () => {
    const requestId = newId();
    const cred = await issue(provider, requestId);
    expect(cred.principal).toMatch(new RegExp(`^stint_[0-9a-f]{8}_${owner.storeId.slice(3)}_${requestId}$`));
    const owned = (await provider.listOwned({}, NO_CANCEL)).principals;
    expect(owned).toContainEqual({ principal: cred.principal, requestId, claim: 'store' });
    await provider.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('a request id outside [A-Za-z0-9_-] is written in hex and still read back', async () => {
    const requestId = `Req.${randomBytes(3).toString('hex')}/é x`;
    const cred = await issue(provider, requestId);
    expect(cred.principal).toMatch(/_\.[0-9a-f]+$/);
    expect(cred.principal).not.toMatch(/\s/);
    const owned = (await provider.listOwned({}, NO_CANCEL)).principals;
    expect(owned.find((o) => o.principal === cred.principal)?.requestId).toBe(requestId);
    await provider.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('the user gets exactly its rules, minus every @admin and @dangerous command; the password is never sent', async () => {
    await root.set('app:k', 'v');
    await root.set('other:k', 'v');
    const cred = await issue(provider, newId(), ['+@read', '+@connection', '~app:*']);
    const user = await login(cred.secret);
    try {
      await expect(user.get('app:k')).resolves.toBe('v');
      await expect(user.get('other:k')).rejects.toThrow(/NOPERM/);
      await expect(user.set('app:k', 'x')).rejects.toThrow(/NOPERM/);
      // In @read and @connection, but also @dangerous/@admin: taken away by the trailing -@admin -@dangerous.
      await expect(user.keys('app:*')).rejects.toThrow(/NOPERM/);
      await expect(user.call('CLIENT', 'LIST')).rejects.toThrow(/NOPERM/);
      await expect(user.call('CLIENT', 'KILL', 'USER', 'stint_admin')).rejects.toThrow(/NOPERM/);
      await expect(user.call('CONFIG', 'GET', 'dir')).rejects.toThrow(/NOPERM/);
      await expect(user.call('ACL', 'SETUSER', 'mine', 'on', '>x', '+@all')).rejects.toThrow(/NOPERM/);
      await expect(user.call('CLIENT', 'SETNAME', 'fine')).resolves.toBe('OK');
    } finally {
      user.disconnect();
    }
    const rules = (await root.call('ACL', 'GETUSER', cred.principal)) as unknown[];
    const passwords = rules[rules.indexOf('passwords') + 1] as string[];
    expect(passwords).toHaveLength(1);
    // Redis keeps what it was sent: the SHA-256 of the password, which is what Stint sent instead of it.
    expect(passwords[0]).toBe(
      createHash('sha256')
        .update(cred.secret.password as string)
        .digest('hex'),
    );
    await provider.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('issued users survive a restart (kill -9) and revoked ones stay gone', async () => {
    const kept = await issue(provider);
    const revoked = await issue(provider);
    expect((await provider.revoke({ principal: revoked.principal }, NO_CANCEL)).outcome).toBe('revoked');

    root.disconnect();
    await redis.restart();
    root = await redis.root();

    expect(await exists(kept.principal)).toBe(true);
    expect(await exists(revoked.principal)).toBe(false);
    const user = await login(kept.secret);
    await expect(user.get('app:k')).resolves.toBeDefined();
    user.disconnect();
    await expect(login(revoked.secret)).rejects.toThrow(/WRONGPASS/);
    const owned = (await provider.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal);
    expect(owned).toContain(kept.principal);
    expect(owned).not.toContain(revoked.principal);
    await provider.revoke({ principal: kept.principal }, NO_CANCEL);
  });

  describe('when ACL SAVE fails (the aclfile replaced by a directory, so its rename fails even as root)', () => {
    const breakSave = () => {
      renameSync(redis.aclfile, `${redis.aclfile}.saved`);
      mkdirSync(redis.aclfile);
      writeFileSync(join(redis.aclfile, 'keep'), '');
    };
    const mendSave = () => {
      rmSync(redis.aclfile, { recursive: true, force: true });
      renameSync(`${redis.aclfile}.saved`, redis.aclfile);
    };

    it('issuance is undone: no user in memory, nothing in the file, a clear error without the password', async () => {
      const requestId = newId();
      const before = readFileSync(redis.aclfile, 'utf8');
      breakSave();
      let err: StintError;
      try {
        err = await rejection(issue(provider, requestId));
      } finally {
        mendSave();
      }
      expect(err.code).toBe('PROVIDER_ERROR');
      expect(err.message).toMatch(/ACL SAVE|save the ACLs/i);
      expect(err.message).not.toMatch(/#[0-9a-f]{64}/);
      expect(await exists(provider.principalFor(requestId))).toBe(false);
      expect(readFileSync(redis.aclfile, 'utf8')).toBe(before);
    });

    it('a revoke fails retryably, and its retry makes the deletion durable although the user is already gone', async () => {
      const cred = await issue(provider);
      breakSave();
      try {
        const err = await rejection(provider.revoke({ principal: cred.principal }, NO_CANCEL));
        expect(err.code).toBe('PROVIDER_ERROR');
        expect(isPermanentFailure(err)).toBe(false);
        // Deleted in memory (no access now), but the file still holds it: a restart now would bring it back.
        expect(await exists(cred.principal)).toBe(false);
      } finally {
        mendSave();
      }
      expect(readFileSync(redis.aclfile, 'utf8')).toContain(cred.principal);
      expect((await provider.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('absent');
      expect(readFileSync(redis.aclfile, 'utf8')).not.toContain(cred.principal);
      root.disconnect();
      await redis.restart();
      root = await redis.root();
      expect(await exists(cred.principal)).toBe(false);
    });
  });

  it('two grants of one person on one resource never cut each other', async () => {
    const first = await issue(provider);
    const second = await issue(provider);
    expect(first.principal).not.toBe(second.principal);
    const a = await login(first.secret);
    const b = await login(second.secret);
    try {
      const revoked = await provider.revoke({ principal: first.principal }, NO_CANCEL);
      expect(revoked).toMatchObject({ outcome: 'revoked', sessionsEnded: 1 });
      await expect(a.get('app:k')).rejects.toThrow();
      await expect(b.get('app:k')).resolves.toBeDefined();
      const again = await login(second.secret);
      again.disconnect();
      expect((await provider.verifyRevoked({ principal: second.principal }, NO_CANCEL)).gone).toBe(false);
    } finally {
      a.disconnect();
      b.disconnect();
      await provider.revoke({ principal: second.principal }, NO_CANCEL);
    }
  });

  it('revoke ends every connection of the user, and verifyRevoked sees none left', async () => {
    const cred = await issue(provider);
    const sessions = await Promise.all([login(cred.secret), login(cred.secret), login(cred.secret)]);
    const blocked = sessions[2]?.blpop('app:queue', 0).then(
      () => 'answered',
      () => 'cut',
    );
    const result = await provider.revoke({ principal: cred.principal }, NO_CANCEL);
    expect(result).toMatchObject({ outcome: 'revoked', sessionsEnded: 3 });
    expect(await blocked).toBe('cut');
    const list = String(await root.call('CLIENT', 'LIST'));
    expect(list).not.toContain(`user=${cred.principal} `);
    expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
    for (const s of sessions) s.disconnect();
  });

  it('another store’s users are never listed as owned, revoked or cleared, even under the same deployment name', async () => {
    const sameName = make(newOwner(owner.deployment));
    const otherName = make(newOwner('someone-else'));
    const theirs = await issue(sameName);
    const unrelated = await issue(otherName);
    try {
      const owned = (await provider.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal);
      expect(owned).not.toContain(theirs.principal);
      expect(owned).not.toContain(unrelated.principal);
      const foreign = (await provider.listForeign({}, NO_CANCEL)).principals;
      expect(foreign).toContainEqual({
        principal: theirs.principal,
        storeId: expect.stringMatching(/^st_[0-9a-f]{16}$/),
      });
      expect(foreign.map((f) => f.principal)).not.toContain(unrelated.principal);
      const err = await rejection(provider.revoke({ principal: theirs.principal }, NO_CANCEL));
      expect(failureClass(err)).toBe('refused');
      expect(err.message).toMatch(/another Stint store/);
      expect(await exists(theirs.principal)).toBe(true);
    } finally {
      await sameName.revoke({ principal: theirs.principal }, NO_CANCEL);
      await otherName.revoke({ principal: unrelated.principal }, NO_CANCEL);
    }
  });

  it('refuses to touch a user Stint would not name, permanently', async () => {
    await root.call('ACL', 'SETUSER', 'stint_app', 'on', '>x', '+get');
    await root.call('ACL', 'SETUSER', 'app_user', 'on', '>x', '+get');
    for (const principal of ['stint_app', 'app_user', 'stint_admin']) {
      const err = await rejection(provider.revoke({ principal }, NO_CANCEL));
      expect(isPermanentFailure(err)).toBe(true);
      expect(await root.call('ACL', 'GETUSER', principal)).not.toBeNull();
    }
    const owned = (await provider.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal);
    expect(owned).not.toContain('stint_app');
  });

  it('a leftover of an earlier attempt for the same request is ended and replaced, its old password refused', async () => {
    const requestId = newId();
    const first = await issue(provider, requestId);
    const held = await login(first.secret);
    const second = await issue(provider, requestId);
    expect(second.principal).toBe(first.principal);
    await expect(held.get('app:k')).rejects.toThrow();
    held.disconnect();
    await expect(login(first.secret)).rejects.toThrow(/WRONGPASS/);
    (await login(second.secret)).disconnect();
    await provider.revoke({ principal: second.principal }, NO_CANCEL);
  });

  it('a grant that could escalate is refused at issue too, and nothing is created', async () => {
    for (const grants of [
      ['+@admin'],
      ['~app:*', 'nopass'],
      ['+get', '>known'],
      ['(+@all ~*)'],
      ['~a >pw'],
    ]) {
      const requestId = newId();
      const err = await rejection(issue(provider, requestId, grants));
      expect(err.code).toBe('PROVIDER_ERROR');
      expect(failureClass(err)).toBe('refused');
      expect(await exists(provider.principalFor(requestId))).toBe(false);
    }
  });

  it('the admin user can manage users but not read data, configure the server or list password hashes', async () => {
    const admin = await connectRedis(redis.host, redis.port, 'stint_admin', redis.adminPassword);
    try {
      for (const cmd of [
        ['GET', 'app:k'],
        ['SET', 'app:k', 'x'],
        ['KEYS', '*'],
        ['FLUSHALL'],
        ['CONFIG', 'GET', 'dir'],
        ['CONFIG', 'SET', 'dir', '/tmp'],
        ['ACL', 'LIST'],
        ['ACL', 'LOAD'],
        ['ACL', 'LOG'],
        ['MODULE', 'LIST'],
        ['SUBSCRIBE', 'app-events'],
        ['INFO'],
      ]) {
        await expect(admin.call(cmd[0] as string, ...cmd.slice(1)), cmd.join(' ')).rejects.toThrow(/NOPERM/);
      }
    } finally {
      admin.disconnect();
    }
  });

  it('a target refusing the admin password: a clear PROVIDER_ERROR (class auth) that never shows the password', async () => {
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const url = new URL(redis.adminUrl);
    url.password = wrong;
    const bad = make(owner, url.toString());
    for (const call of [() => bad.ping({}, NO_CANCEL), () => issue(bad)]) {
      const err = await rejection(call());
      expect(err.code).toBe('PROVIDER_ERROR');
      expect(failureClass(err)).toBe('auth');
      expect(isPermanentFailure(err)).toBe(false);
      expect(err.message).toMatch(/WRONGPASS/);
      expect(err.message).toMatch(/refused Stint's admin user/);
      expect(err.message).not.toContain(wrong);
    }
  });

  it('with the target out of reach nothing reads as gone: verify and list fail (retryable) instead', async () => {
    const cred = await issue(provider);
    const proxy = await startTcpProxy(redis.host, redis.port);
    const url = new URL(redis.adminUrl);
    url.port = String(proxy.port);
    const via = make(owner, url.toString());
    try {
      proxy.down();
      for (const call of [
        () => via.verifyRevoked({ principal: cred.principal }, NO_CANCEL),
        () => via.listOwned({}, NO_CANCEL),
        () => via.listForeign({}, NO_CANCEL),
      ]) {
        const err = await rejection(call());
        expect(failureClass(err)).toBe('unreachable');
        expect(isPermanentFailure(err)).toBe(false);
      }
      proxy.up();
      expect((await via.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(false);
    } finally {
      await proxy.close();
      await provider.revoke({ principal: cred.principal }, NO_CANCEL);
    }
  });

  it('an answer lost after the server acted (each step of issue in turn): the issue fails retryably and leaves nothing', async () => {
    // Answers on one admin connection: AUTH, HELLO, CLIENT KILL USER (leftover check), ACL SETUSER, ACL SAVE.
    // Cutting the 4th or 5th means the user exists on the server while Stint never heard back.
    for (let answer = 1; answer <= 5; answer++) {
      const proxy = await cuttingProxy(redis.host, redis.port, answer);
      const url = new URL(redis.adminUrl);
      url.port = String(proxy.port);
      const via = make(owner, url.toString());
      const requestId = newId();
      try {
        const err = await rejection(issue(via, requestId));
        expect(err.code, `answer ${answer}`).toBe('PROVIDER_ERROR');
        expect(isPermanentFailure(err)).toBe(false);
        expect(proxy.cut()).toBe(true);
        expect(await exists(via.principalFor(requestId)), `answer ${answer}`).toBe(false);
        expect(readFileSync(redis.aclfile, 'utf8')).not.toContain(via.principalFor(requestId));
      } finally {
        await proxy.close();
      }
    }
  });

  it('answers ping with the server version', async () => {
    expect((await provider.ping({}, NO_CANCEL)).target).toMatch(/^Redis \d+\.\d+\.\d+$/);
  });
});

describe('redis provider against a server started without an aclfile', () => {
  let redis: RedisTarget;
  beforeAll(async () => {
    redis = await startRedis({ aclfile: false });
  });
  afterAll(() => redis?.stop());

  it('refuses to issue (the user could not survive a restart), says why, and leaves nothing', async () => {
    const provider = createProvider(
      resource(),
      { STINT_TEST_REDIS_URL: redis.adminUrl },
      { owner: newOwner() },
    );
    const requestId = newId();
    const err = await rejection(
      provider.issue(
        { requestId, requester: 'alice', role: 'read', grants: ['+get', '~app:*'], expiresAt: inAnHour() },
        NO_CANCEL,
      ),
    );
    expect(err.message).toMatch(/start Redis with an aclfile/);
    expect(failureClass(err)).toBe('refused');
    const root = await redis.root();
    expect(await root.call('ACL', 'GETUSER', provider.principalFor(requestId))).toBeNull();
  });
});

/**
 * A proxy that passes everything except the `nth` answer on the first connection: that connection is cut there
 * instead, after the server has acted. Later connections (the undo's) pass untouched.
 */
async function cuttingProxy(host: string, port: number, nth: number) {
  let connections = 0;
  let didCut = false;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const first = ++connections === 1;
    const upstream = createConnection({ host, port });
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    let answers = 0;
    upstream.on('data', (chunk: Buffer) => {
      if (first && ++answers === nth) {
        didCut = true;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    cut: () => didCut,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('redis provider against a server whose new users get every channel (acl-pubsub-default allchannels)', () => {
  let redis: RedisTarget;
  beforeAll(async () => {
    redis = await startRedis({ args: ['--acl-pubsub-default', 'allchannels'] });
  });
  afterAll(() => redis?.stop());

  it('an issued user gets only the channels its grants name', async () => {
    const provider = createProvider(
      resource(),
      { STINT_TEST_REDIS_URL: redis.adminUrl },
      { owner: newOwner() },
    );
    const cred = await provider.issue(
      {
        requestId: newId(),
        requester: 'alice',
        role: 'read',
        grants: ['+@pubsub', '&app-events:*'],
        expiresAt: inAnHour(),
      },
      NO_CANCEL,
    );
    const secret = cred.secret as Record<string, string>;
    const publish = await connectRedis(
      redis.host,
      redis.port,
      secret.username as string,
      secret.password as string,
    );
    try {
      await expect(publish.publish('app-events:1', 'x')).resolves.toBe(0);
      await expect(publish.publish('other', 'x')).rejects.toThrow(/NOPERM/);
    } finally {
      publish.disconnect();
      await provider.revoke({ principal: cred.principal }, NO_CANCEL);
    }
  });
});
