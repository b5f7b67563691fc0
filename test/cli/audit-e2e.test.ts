import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { run } from './support.js';

/**
 * The audit commands against the real application over real HTTP: verify trusting nothing the server says,
 * export and verify the export with the server out of the picture, prove and check a proof offline.
 */
describe('stint audit against the real app (sqlite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-audit-e2e-'));
  const state = join(dir, 'audit-state.json');
  let h: Harness;
  let url: string;
  let vkey: string;
  let size: number;

  const stint = (user: string, ...argv: string[]) =>
    run(['--url', url, '--token', h.tokens[user] ?? '', ...argv]);

  beforeAll(async () => {
    h = await createHarness('sqlite', { stepUp: false });
    vkey = h.auditSigner.vkey;
    for (const reason of ['INC-1', 'INC-2', 'INC-3']) {
      const r = await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason });
      await h.as('carol').post(`/v1/requests/${r.body.id}/deny`, { comment: 'not now' });
    }
    size = (await h.stint.audit.log.build({ checkpoint: true }))?.size ?? 0;
    url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('key prints the origin and the vkey the server signs with', async () => {
    const r = await stint('erin', 'audit', 'key');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`origin: ${h.auditSigner.name}\n`);
    expect(r.stdout).toContain(`vkey:     ${vkey}\n`);
  });

  it('verify recomputes the trail with the pinned key', async () => {
    expect(size).toBe(6);
    const r = await stint('erin', 'audit', 'verify', '--key', vkey, '--state', state);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(
      /^verified 6 events up to checkpoint 6 \([A-Za-z0-9+/]{12}…, signed by stint-test\//,
    );
  });

  it('export of today verifies offline with no server', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const out = join(dir, 'export');
    const r = await stint('erin', 'audit', 'export', '--since', today, '--until', today, '--key', vkey, out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^exported 6 events \(seq 0\.\.5\) to .*: 1 day file\(s\), checkpoint 6\n/);
    const offline = await run(['audit', 'verify', '--offline', out, '--key', vkey], {
      fetch: () => {
        throw new Error('no network for offline verification');
      },
    });
    expect(offline).toMatchObject({ code: 0, stderr: '' });
    expect(offline.stdout).toMatch(/^verified 6 events up to checkpoint 6 /);
  });

  it('prove an event, then check the proof offline', async () => {
    const events = (await h.as('erin').get('/v1/audit/events')).body.events;
    const id = events[2].id as string;
    const proved = await stint('erin', 'audit', 'prove', id);
    expect(proved.code).toBe(0);
    const file = join(dir, 'proof.json');
    writeFileSync(file, proved.stdout);
    const r = await run(['audit', 'check-proof', file, '--key', vkey]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^valid: event ${id} \\(seq 2\\) is included in checkpoint 6 `));

    // No checkpoint of size 2 is stored: an auditor cannot have one signed (they get the first covering it,
    // which is no use as the old side of a proof), security can.
    const refused = await stint('erin', 'audit', 'consistency', '2', '6');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/no checkpoint of size 2 is stored .*only security or an admin/);
    const consistency = await stint('sam', 'audit', 'consistency', '2', '6');
    expect(consistency.code).toBe(0);
    writeFileSync(file, consistency.stdout);
    expect((await run(['audit', 'check-proof', file, '--key', vkey])).stdout).toMatch(
      /^valid: checkpoint 2 \(.{12}…\) is a prefix of checkpoint 6 /,
    );
  });

  it('tail --json prints one event a line', async () => {
    const r = await stint('erin', 'audit', 'tail', '-n', '2', '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((e) => [e.seq, e.action])).toEqual([
      [4, 'request.created'],
      [5, 'request.denied'],
    ]);
  });

  it('every event matches the JSON schema documented in docs/audit.md', async () => {
    const doc = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');
    const block = /```json\n(\{\n {2}"\$schema"[\s\S]*?)```/.exec(doc)?.[1];
    // Formats (uuid, date-time) are documentation here: ajv-formats is not a dependency of Stint.
    const ajv = new Ajv2020({ allErrors: true, validateFormats: false });
    const validate = ajv.compile(JSON.parse(block ?? 'null'));
    const { leaves } = (await h.as('erin').get('/v1/audit/leaves?start=0&limit=100')).body;
    expect(leaves).toHaveLength(6);
    for (const leaf of leaves) {
      const event = JSON.parse(leaf.body);
      expect(validate(event), `${event.action}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    expect(validate({ ...JSON.parse(leaves[0].body), details: {} })).toBe(false);
  });

  it('a byte changed in the database by a DBA: FAILED: CHANGED, exit 1', async () => {
    const db = h.testStore.store.db;
    await sql`DROP TRIGGER audit_events_no_update`.execute(db);
    await sql`UPDATE audit_events SET body = replace(body, 'INC-2', 'INC-9') WHERE seq = 2`.execute(db);
    const r = await stint('erin', 'audit', 'verify', '--key', vkey, '--state', state);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED: CHANGED at event 2: /);
  });
});
