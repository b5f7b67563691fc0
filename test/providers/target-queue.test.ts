import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { isStintError } from '../../src/domain/errors.js';
import { silentLogger } from '../../src/logger.js';
import { instrumentProvider } from '../../src/providers/instrument.js';
import { parsePostgresConfig } from '../../src/providers/postgres/postgres-config.js';
import { createPostgresProvider } from '../../src/providers/postgres/postgres-provider.js';
import { isCancelled, NO_CANCEL } from '../../src/providers/provider.js';
import { MAX_REVOKE_BATCH } from '../../src/providers/revoke-batcher.js';
import { createTargetQueue } from '../../src/providers/target-queue.js';
import { connectAs } from '../support/pg-cluster.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('admission to a target', () => {
  it('runs at most its slots at once, revocations ahead of issuances, in order within each', async () => {
    const q = createTargetQueue('t', 2);
    const order: string[] = [];
    const admit = (method: 'issue' | 'revoke', label: string) =>
      q.acquire(method, NO_CANCEL).then(() => order.push(label));
    await admit('issue', 'i1');
    await admit('issue', 'i2');
    const waiting = [
      admit('issue', 'i3'),
      admit('revoke', 'r1'),
      admit('issue', 'i4'),
      admit('revoke', 'r2'),
    ];
    await tick();
    expect(q.running()).toBe(2);
    expect(q.waiting()).toBe(4);
    q.release();
    q.release();
    await tick();
    expect(order).toEqual(['i1', 'i2', 'r1', 'r2']);
    q.release();
    q.release();
    await Promise.all(waiting);
    expect(order).toEqual(['i1', 'i2', 'r1', 'r2', 'i3', 'i4']);
  });

  it('a caller that gives up while waiting leaves the queue and is told it was cancelled', async () => {
    const q = createTargetQueue('t', 1);
    await q.acquire('issue', NO_CANCEL);
    const stop = new AbortController();
    const waiting = q.acquire('issue', stop.signal);
    await tick();
    stop.abort();
    const err = await waiting.catch((e: unknown) => e);
    expect(isCancelled(err)).toBe(true);
    expect(q.waiting()).toBe(0);
    // Its slot is not taken: the next caller gets the one released.
    q.release();
    await q.acquire('issue', NO_CANCEL);
    expect(q.running()).toBe(1);
  });

  it('refuses as busy beyond its bound instead of holding without limit', async () => {
    const q = createTargetQueue('t', 1, 2);
    await q.acquire('issue', NO_CANCEL);
    void q.acquire('issue', NO_CANCEL);
    void q.acquire('issue', NO_CANCEL);
    const err = await q.acquire('issue', NO_CANCEL).catch((e: unknown) => e);
    expect(isStintError(err) && err.code === 'PROVIDER_ERROR').toBe(true);
    expect((err as Error).message).toBe('target t is busy: 2 calls already wait for it');
  });

  it('a call’s deadline runs from its admission, not from when it started waiting', async () => {
    const queue = createTargetQueue('slow', 1);
    let calls = 0;
    const inner = {
      kind: 'slow',
      principalFor: (id: string) => id,
      async ping(_r: object, signal: AbortSignal) {
        calls += 1;
        await new Promise((r) => setTimeout(r, 150));
        if (signal.aborted) throw new Error('deadline passed');
        return { target: 'slow 1.0' };
      },
    } as unknown as Parameters<typeof instrumentProvider>[0];
    const provider = instrumentProvider(inner, {
      resource: 'slow',
      logger: silentLogger,
      queue,
      deadlinesMs: { ping: 400 },
    });
    // Five pings of 150 ms one at a time: the last waits 600 ms, more than its 400 ms deadline, and still runs.
    const results = await Promise.all(Array.from({ length: 5 }, () => provider.ping({}, NO_CANCEL)));
    expect(results.map((r) => r.target)).toEqual(Array(5).fill('slow 1.0'));
    expect(calls).toBe(5);
  });
});

/**
 * A burst at one real PostgreSQL target with one admin connection: 150 issuances then 150 revocations at once.
 * Before admission, the calls waited inside pg's pool, whose 2 s connect timeout failed those that waited
 * longest ("timeout exceeded when trying to connect"); now every one waits its turn and succeeds.
 */
describe('a burst at a real target with one admin connection', () => {
  const cluster = inject('pgCluster');
  const owner = { deployment: 'queue-test', storeId: `st_${randomBytes(8).toString('hex')}` };

  it('serves every issuance and revocation, none failing on the pool, the revocations in batches', async () => {
    const config = parsePostgresConfig('burst-db', { adminUrl: cluster.stintAdminUrl, adminConnections: 1 });
    expect(config.concurrency).toBe(1);
    const inner = createPostgresProvider({ config, owner });
    const batches: number[] = [];
    const many = inner.revokeMany?.bind(inner);
    const spied = {
      ...inner,
      revokeMany: (requests: readonly { principal: string }[], signal: AbortSignal) => {
        batches.push(requests.length);
        return many ? many(requests, signal) : Promise.resolve([]);
      },
    };
    const provider = instrumentProvider(spied, {
      resource: 'burst-db',
      logger: silentLogger,
      secrets: config.secrets,
      queue: createTargetQueue('burst-db', config.concurrency),
    });
    const ids = Array.from({ length: 150 }, (_, i) => `burst-${randomBytes(4).toString('hex')}-${i}`);
    const expiresAt = new Date(Date.now() + 3_600_000);
    try {
      const issued = await Promise.allSettled(
        ids.map((requestId) =>
          provider.issue(
            { requestId, requester: 'alice', role: 'read', grants: ['app_read'], expiresAt },
            NO_CANCEL,
          ),
        ),
      );
      const failed = issued.filter((r) => r.status === 'rejected');
      expect(failed.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      const creds = issued.map(
        (r) => (r as PromiseFulfilledResult<{ principal: string; secret: Record<string, unknown> }>).value,
      );
      const principals = creds.map((c) => c.principal);
      // Live sessions on a few of them: the batch must end these too.
      const sessions = await Promise.all(creds.slice(0, 5).map((c) => connectAs(c.secret.url as string)));
      const ended = sessions.map(
        (client) => new Promise<boolean>((resolve) => client.once('end', () => resolve(true))),
      );
      const revoked = await Promise.allSettled(
        principals.map((principal) => provider.revoke({ principal }, NO_CANCEL)),
      );
      expect(revoked.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(
        revoked.every((r) => (r as PromiseFulfilledResult<{ outcome: string }>).value.outcome === 'revoked'),
      ).toBe(true);
      expect(await Promise.all(ended)).toEqual([true, true, true, true, true]);
      // Asked in one turn of the event loop, they went to the target together: none alone ahead of the rest.
      expect(batches).toEqual([150]);
      expect(150).toBeLessThanOrEqual(MAX_REVOKE_BATCH);
      const su = await connectAs(cluster.superuserUrl);
      try {
        const { rows } = await su.query('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ANY($1)', [
          principals,
        ]);
        expect(rows[0].n).toBe(0);
      } finally {
        await su.end();
      }
    } finally {
      await provider.close();
    }
  }, 120_000);
});

describe('a batch of revocations holds revoke’s checks', () => {
  const cluster = inject('pgCluster');

  it('revokes this store’s roles together and refuses another store’s and a non-Stint name, each with its own answer', async () => {
    const mine = { deployment: 'batch-test', storeId: `st_${randomBytes(8).toString('hex')}` };
    const theirs = { deployment: 'batch-test', storeId: `st_${randomBytes(8).toString('hex')}` };
    const config = parsePostgresConfig('batch-db', { adminUrl: cluster.stintAdminUrl });
    const ours = createPostgresProvider({ config, owner: mine });
    const other = createPostgresProvider({ config, owner: theirs });
    const expiresAt = new Date(Date.now() + 3_600_000);
    const issue = (p: typeof ours, label: string) =>
      p.issue(
        {
          requestId: `${label}-${randomBytes(4).toString('hex')}`,
          requester: 'a',
          role: 'r',
          grants: ['app_read'],
          expiresAt,
        },
        NO_CANCEL,
      );
    try {
      const a = await issue(ours, 'mine');
      const b = await issue(ours, 'mine');
      const foreign = await issue(other, 'theirs');
      const answers = await ours.revokeMany?.(
        [
          { principal: a.principal },
          { principal: foreign.principal },
          { principal: 'app_admin' },
          { principal: b.principal },
          { principal: 'stint_never_made' },
        ],
        NO_CANCEL,
      );
      expect(answers?.[0]).toEqual({ outcome: 'revoked', sessionsEnded: 0 });
      expect(answers?.[1]).toBeInstanceOf(Error);
      expect(String(answers?.[1])).toContain('another Stint store');
      expect(answers?.[2]).toBeInstanceOf(Error);
      expect(String(answers?.[2])).toContain('is not a Stint principal name');
      expect(answers?.[3]).toEqual({ outcome: 'revoked', sessionsEnded: 0 });
      expect(answers?.[4]).toEqual({ outcome: 'absent' });
      const su = await connectAs(cluster.superuserUrl);
      try {
        const { rows } = await su.query<{ rolname: string }>(
          'SELECT rolname FROM pg_roles WHERE rolname = ANY($1)',
          [[a.principal, b.principal, foreign.principal]],
        );
        expect(rows.map((r) => r.rolname)).toEqual([foreign.principal]);
      } finally {
        await su.end();
      }
      await other.revoke({ principal: foreign.principal }, NO_CANCEL);
    } finally {
      await ours.close();
      await other.close();
    }
  });
});
