import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * `stint audit export` walks the range by sequence number: a row missing from the store is a gap it names,
 * not a page that comes up short and is filled with the next events again.
 */
describe.each(STORE_KINDS)('audit export of a range with a row missing on %s', (kind) => {
  let h: Harness;
  let dir: string;
  afterEach(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails with REMOVED at the missing event and writes no event twice', async () => {
    h = await createHarness(kind, { stepUp: false, start: false });
    for (const reason of ['INC-1', 'INC-2', 'INC-3']) {
      const r = await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason });
      await h.as('carol').post(`/v1/requests/${r.body.id}/deny`, { comment: 'not now' });
    }
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(6);
    const store = h.testStore.store;
    if (kind === 'sqlite') await sql`DROP TRIGGER audit_events_no_delete`.execute(store.db);
    else await sql`ALTER TABLE audit_events DISABLE TRIGGER USER`.execute(store.db);
    await sql`DELETE FROM audit_events WHERE seq = 3`.execute(store.db);

    const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    dir = mkdtempSync(join(tmpdir(), 'stint-export-gap-'));
    const out = join(dir, 'export');
    const today = new Date().toISOString().slice(0, 10);
    const r = await run([
      '--url',
      url,
      '--token',
      h.tokens.erin ?? '',
      'audit',
      'export',
      '--since',
      today,
      '--until',
      today,
      '--key',
      h.auditSigner.vkey,
      out,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED: REMOVED at event 3: /);
    const seqs = readdirSync(out)
      .filter((f) => f.startsWith('events-'))
      .flatMap((f) => readFileSync(join(out, f), 'utf8').trim().split('\n'))
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs.every((s) => s < 6)).toBe(true);
  });
});
