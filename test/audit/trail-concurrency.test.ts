import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { appendAudit } from '../../src/audit/audit-store.js';
import { verifyStore } from '../../src/audit/audit-verify.js';
import { leafMacKeys } from '../../src/audit/log/leaf-mac.js';
import { generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';
import { silentLogger } from '../../src/logger.js';
import { openDatabase, type StintDatabase } from '../../src/store/database.js';
import { createTestStore, STORE_KINDS, type TestStore } from '../support/stores.js';

/**
 * Leaf indexes must be gap-free under concurrency: on SQLite within the one process, on PostgreSQL across
 * several servers (separate connection pools) appending at once, some of whose transactions roll back.
 */
describe.each(STORE_KINDS)('gap-free audit sequence on %s', (kind) => {
  const opened: (TestStore | StintDatabase)[] = [];
  afterAll(async () => {
    for (const s of opened.reverse()) await ('store' in s ? s.close() : s.close());
  });

  it('concurrent appenders, with rollbacks among them, leave 0..n-1 with no gap, and the trail verifies', async () => {
    const base = await createTestStore(kind);
    opened.push(base);
    // Each "server" has its own pool on PostgreSQL; SQLite serves one process, so they share its store.
    const servers: StintDatabase[] =
      kind === 'postgresql'
        ? [base.store, openDatabase(base.url, { poolSize: 5 }), openDatabase(base.url, { poolSize: 5 })]
        : [base.store];
    for (const s of servers.slice(1)) opened.push(s);

    const signer = parseSkey(generateNoteKey(`stint-test/${randomBytes(3).toString('hex')}`).skey);
    // Each server's log; the appends below carry the leaf MAC, as the server's writer gives them.
    const logs = servers.map((store) =>
      createAuditLog({
        store,
        clock: () => new Date(),
        logger: silentLogger,
        origin: signer.name,
        signers: [signer],
        checkpointDir: null,
        checkpointIntervalMs: 0,
      }),
    );
    let committed = 0;
    const work = Array.from({ length: 60 }, (_, i) => {
      const store = servers[i % servers.length] as StintDatabase;
      const rollback = i % 7 === 3;
      return store.db
        .transaction()
        .execute(async (trx) => {
          await appendAudit(
            trx,
            [
              { at: new Date(), actor: `u${i}`, action: 'test.event', requestId: null, details: { i } },
              {
                at: new Date(),
                actor: `u${i}`,
                action: 'test.event',
                requestId: null,
                details: { i, second: true },
              },
            ],
            leafMacKeys([signer]),
          );
          if (rollback) throw new Error('rolled back on purpose');
          committed += 2;
        })
        .catch((e: Error) => {
          if (e.message !== 'rolled back on purpose') throw e;
        });
    });
    await Promise.all(work);

    const rows = await base.store.db
      .selectFrom('audit_events')
      .select(['seq', 'body'])
      .orderBy('seq')
      .execute();
    expect(rows.length).toBe(committed);
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: committed }, (_, i) => i));
    for (const r of rows) expect(JSON.parse(r.body as string).seq).toBe(Number(r.seq));

    // Two builders racing (two servers' periodic jobs): the advisory lock lets one fold at a time.
    await Promise.all(logs.map((log) => log.build()));
    await logs[0]?.build({ checkpoint: true });
    const report = await verifyStore({
      store: base.store,
      origin: signer.name,
      keys: [signer.verifier],
      checkpointDir: null,
    });
    expect(report).toMatchObject({ ok: true, size: committed });
  });
});
