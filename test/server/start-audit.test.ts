import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { appendAudit } from '../../src/audit/audit-store.js';
import { leafMacKeys } from '../../src/audit/log/leaf-mac.js';
import { generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';
import { silentLogger } from '../../src/logger.js';
import { runServer } from '../../src/server/start.js';
import { openDatabase } from '../../src/store/database.js';
import { targetEnv } from '../support/harness.js';
import { TEST_POLICY } from '../support/test-policy.js';

/** `stint server` on a store restored from an older backup while its WORM checkpoint folder kept the newer one. */
describe('server start on a rolled-back audit store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-start-audit-'));
  const policyPath = join(dir, 'stint.yaml');
  const dbUrl = `sqlite:${join(dir, 'stint.db')}`;
  const skey = generateNoteKey('stint-test/audit').skey;
  const saved = { ...process.env };

  beforeAll(() => {
    Object.assign(process.env, targetEnv(), {
      STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      STINT_AUDIT_SIGNING_KEY: skey,
      STINT_LOG_LEVEL: 'silent',
    });
    writeFileSync(policyPath, TEST_POLICY);
  });
  afterAll(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () => runServer({ policyPath, databaseUrl: dbUrl, port: 0, dataDir: dir, print: () => {} });

  it('refuses to start with AUDIT_UNAVAILABLE, naming both sizes', async () => {
    await (await start()).close();
    const store = openDatabase(dbUrl);
    const signer = parseSkey(skey);
    const log = createAuditLog({
      store,
      clock: () => new Date(),
      logger: silentLogger,
      origin: signer.name,
      signers: [signer],
      checkpointDir: join(dir, 'checkpoints'),
      checkpointIntervalMs: 0,
    });
    const events = Array.from({ length: 5 }, (_, i) => ({
      at: new Date(),
      actor: 'alice',
      action: 'request.created',
      requestId: null,
      details: { i },
    }));
    await appendAudit(store.db, events, leafMacKeys([signer]));
    expect((await log.build({ checkpoint: true }))?.size).toBe(5);
    expect(readdirSync(join(dir, 'checkpoints'))).toContain('checkpoint-000000000005.txt');
    // The backup from before those events.
    for (const t of ['audit_events_no_delete', 'audit_nodes_no_delete', 'audit_checkpoints_no_delete']) {
      await sql.raw(`DROP TRIGGER ${t}`).execute(store.db);
    }
    await sql`DELETE FROM audit_events WHERE seq >= 2`.execute(store.db);
    await sql`DELETE FROM audit_checkpoints WHERE size > 2`.execute(store.db);
    await sql`DELETE FROM audit_nodes`.execute(store.db);
    await sql`UPDATE audit_head SET size = 2`.execute(store.db);
    await sql`UPDATE audit_tree SET built = 0`.execute(store.db);
    await store.close();

    await expect(start()).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
      message: expect.stringMatching(
        /^refusing to start: the audit store holds 2 events but checkpoint 5 \(in the WORM folder\) was signed/,
      ),
    });
  });

  it('the WORM folder removed too, no witness: refuses to start (CONFIG_INVALID) unless the risk is accepted', async () => {
    rmSync(join(dir, 'checkpoints'), { recursive: true, force: true });
    await expect(start()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/no witness is configured.*STINT_AUDIT_ACCEPT_ROLLBACK_RISK=true/),
    });
    process.env.STINT_AUDIT_ACCEPT_ROLLBACK_RISK = 'yes';
    await expect(start()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('STINT_AUDIT_ACCEPT_ROLLBACK_RISK: must be true or false'),
    });
    process.env.STINT_AUDIT_ACCEPT_ROLLBACK_RISK = 'true';
    try {
      await (await start()).close();
    } finally {
      delete process.env.STINT_AUDIT_ACCEPT_ROLLBACK_RISK;
    }
  });
});
