import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { connect } from '../support/pg-client.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * Issue 20: auditor-triggered work was unbounded. A read-only caller could make the server sign fresh
 * checkpoints, and run whole-trail verifications back to back (87 in 5 s) while everyone else's answers slowed.
 * Against the running server, on both stores.
 */
describe.each(STORE_KINDS)('what an auditor may make the server do, on %s', (kind) => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  async function setup(): Promise<void> {
    h = await createHarness(kind, { stepUp: false, start: false });
    for (const reason of ['INC-1', 'INC-2', 'INC-3']) {
      const r = await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason });
      await h.as('carol').post(`/v1/requests/${r.body.id}/deny`, { comment: 'not now' });
    }
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(6);
  }

  const stored = async () =>
    (await h.testStore.store.db.selectFrom('audit_checkpoints').select(['size', 'note']).execute()).map(
      (r) => ({ size: Number(r.size), note: r.note }),
    );

  it('an auditor asking for a checkpoint gets one already signed, never a freshly signed one', async () => {
    await setup();
    const before = await stored();
    expect(before.map((c) => c.size)).toEqual([6]);
    const res = await h.as('erin').post('/v1/audit/checkpoints', { size: 3 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // The first signed checkpoint that covers size 3: the one of size 6, byte for byte.
    expect(res.body).toMatchObject({ size: 6, note: before[0]?.note });
    expect(await stored()).toEqual(before);
    expect(h.stint.audit.log.writtenFiles().filter((f) => f.includes('000000000003'))).toEqual([]);
    // A stored size is answered as it is.
    expect((await h.as('erin').post('/v1/audit/checkpoints', { size: 6 })).body).toMatchObject({ size: 6 });
    // An admin's token scoped to audit:read is read-only too.
    const scoped = await h.stint.identity.tokens.create(
      'root',
      'monitor',
      new Date(),
      new Date(Date.now() + 86_400_000),
      ['audit:read'],
    );
    const viaScoped = await h.app.inject({
      method: 'POST',
      url: '/v1/audit/checkpoints',
      headers: { authorization: `Bearer ${scoped.token}` },
      payload: { size: 4 },
    });
    expect(viaScoped.json()).toMatchObject({ size: 6 });
    expect(await stored()).toEqual(before);
    // Security (a full-power credential) still has one signed and kept at exactly that size.
    const signed = await h.as('sam').post('/v1/audit/checkpoints', { size: 3 });
    expect(signed.body).toMatchObject({ size: 3 });
    expect((await stored()).map((c) => c.size).sort()).toEqual([3, 6]);
  });

  it("an auditor's export of a range no stored checkpoint ends runs on to the first one covering it", async () => {
    await setup();
    const dir = mkdtempSync(join(tmpdir(), 'stint-auditor-export-'));
    try {
      const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
      const rows = await h.testStore.store.db
        .selectFrom('audit_events')
        .select(['seq', 'at'])
        .orderBy('seq')
        .execute();
      // The first event stamped later than the one before it: a range ending there ends between checkpoints.
      const cut = rows.findIndex((r, i) => i > 0 && Number(r.at) > Number(rows[i - 1]?.at));
      expect(cut).toBeGreaterThan(0);
      const since = new Date(Number(rows[0]?.at)).toISOString();
      const until = new Date(Number(rows[cut]?.at)).toISOString();
      const out = join(dir, 'export');
      const r = await run([
        ...['--url', url, '--token', h.tokens.erin ?? '', 'audit', 'export'],
        ...['--since', since, '--until', until, '--key', h.auditSigner.vkey, out],
      ]);
      expect(r.stderr).toMatch(
        new RegExp(`no checkpoint of size ${cut} is stored: the export runs on to checkpoint 6`),
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^exported 6 events \(seq 0\.\.5\) .*checkpoint 6\n/);
      const offline = await run(['audit', 'verify', '--offline', out, '--key', h.auditSigner.vkey]);
      expect(offline.stdout).toMatch(/^verified 6 events up to checkpoint 6 /);
      expect((await stored()).map((c) => c.size)).toEqual([6]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('whole-trail verification is rate-limited per caller, with Retry-After', async () => {
    await setup();
    const call = (user: string) =>
      h.app.inject({
        method: 'POST',
        url: '/v1/audit/verify',
        headers: { authorization: `Bearer ${h.tokens[user]}` },
      });
    for (let i = 0; i < 6; i++) expect((await call('erin')).statusCode).toBe(200);
    const refused = await call('erin');
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Per caller: someone else is not held back by erin's calls.
    expect((await call('sam')).json()).toMatchObject({ ok: true, size: 6 });
  });

  it.runIf(kind === 'postgresql')(
    'one verification at a time per server: callers meanwhile get 429 AUDIT_VERIFY_RUNNING with Retry-After',
    async () => {
      await setup();
      // Hold the first verification in its first read of the store, so "meanwhile" is certain.
      const locker = await connect(h.testStore.url);
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE audit_checkpoints IN ACCESS EXCLUSIVE MODE');
        const call = (user: string) =>
          h.app.inject({
            method: 'POST',
            url: '/v1/audit/verify',
            headers: { authorization: `Bearer ${h.tokens[user]}` },
          });
        const first = call('erin');
        for (;;) {
          const { rows } = await locker.query(
            `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
              WHERE c.relname = 'audit_checkpoints' AND NOT l.granted`,
          );
          if (rows[0].n > 0) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const others = await Promise.all(['sam', 'root', 'dave', 'sam', 'root'].map(call));
        for (const res of others) {
          expect(res.statusCode).toBe(429);
          expect(res.json().error.code).toBe('AUDIT_VERIFY_RUNNING');
          expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        }
        await locker.query('COMMIT');
        expect((await first).json()).toMatchObject({ ok: true, size: 6 });
        expect((await call('sam')).json()).toMatchObject({ ok: true });
      } finally {
        await locker.end();
      }
    },
  );
});
