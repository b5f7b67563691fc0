import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditPurge } from '../../src/audit/audit-purge.js';
import { parseWitnessVkey } from '../../src/audit/witness/cosignature.js';
import { archivePack, extractPack } from '../../src/evidence/evidence-archive.js';
import type { EvidenceManifest } from '../../src/evidence/evidence-format.js';
import { fileEntries } from '../../src/evidence/evidence-pack.js';
import { createSectionBuilder } from '../../src/evidence/evidence-sections.js';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { STORE_KINDS } from '../support/stores.js';
import { startTestWitness, type TestWitness } from '../support/witness.js';

/** A routine resource (no second factor to approve it) with an auto-approved and a manager-approved role. */
const POLICY = `
version: 1
settings: { deployment: evidence-test, hardCap: 8h, pendingTimeout: 24h }
users:
  - { id: alice, email: alice@example.com, name: Alice, manager: carol, teams: [payments] }
  - { id: carol, email: carol@example.com, name: Carol, teams: [leads] }
  - { id: sam, email: sam@example.com, name: Sam, teams: [security], security: true }
  - { id: erin, email: erin@example.com, name: Erin, teams: [audit], auditor: true }
  - { id: root, email: root@example.com, name: Root, teams: [platform], admin: true }
resources:
  - id: app-db
    kind: postgres
    description: An application database
    sensitivity: routine
    connection: { env: STINT_TEST_DB_URL }
    roles:
      read: { description: Read only, grants: [app_read] }
      admin: { description: Full access, grants: [app_admin] }
rules:
  - { id: read, resources: [app-db], roles: [read], who: { teams: [payments] }, duration: { default: 30m, max: 8h }, approval: [auto] }
  - { id: admin, resources: [app-db], roles: [admin], who: { teams: [payments] }, duration: { default: 1h, max: 8h }, approval: [manager] }
`;

interface VerifyJson {
  ok: boolean;
  events: EvidenceManifest['events'];
  boundaries: { start: string; end: string };
  checkpoint: { size: number };
  witnesses: { size: number; cosigners: string[]; verifiedBy: string[] }[];
  policies: { version: string; requests: number; text: boolean }[];
  access: { requests: number; madeInPeriod: number };
  breakglass: { uses: number; postmortemEvents: number; drillEvents: number };
  problem?: { code: string; message: string; auditCode?: string };
  proofs: { inclusion: number[]; consistency: { old: number; new: number } };
}

const offline = { fetch: () => Promise.reject(new Error('no network: verification is offline')) };

describe.each(STORE_KINDS)('the evidence pack of 2026-Q3 (%s store)', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-evidence-test-'));
  let h: Harness;
  let w: TestWitness;
  let url: string;
  let offset = 0;
  const clock = () => new Date(Date.now() + offset);
  const at = (iso: string) => {
    offset = Date.parse(iso) - Date.now();
  };
  const pack = join(dir, 'q3.tar.gz');

  const erin = (...argv: string[]) => run(['--url', url, '--token', h.tokens.erin as string, ...argv]);
  const verify = async (file: string, ...extra: string[]) => {
    const r = await run(
      ['--json', 'evidence', 'verify', file, '--key', h.auditSigner.vkey, ...extra],
      offline,
    );
    return { ...r, json: JSON.parse(r.stdout || '{}') as VerifyJson };
  };
  const settle = async () => {
    await h.stint.sweep();
    await waitFor(async () => {
      const db = h.stint.deps.store.db;
      const busy = await db.selectFrom('requests').select('id').where('state', '=', 'approved').execute();
      const pending = await db
        .selectFrom('grants')
        .select('request_id')
        .where('revocation', '=', 'pending')
        .execute();
      return busy.length === 0 && pending.length === 0;
    }, 60_000);
  };
  const ask = (role: string, reason: string) =>
    h.as('alice').post('/v1/requests', { resource: 'app-db', role, reason });

  beforeAll(async () => {
    at('2026-06-30T22:00:00Z');
    w = await startTestWitness({ name: 'evidence.test/w1' });
    h = await createHarness(kind, {
      policy: POLICY,
      clock,
      stepUp: false,
      auditWitnesses: [{ verifier: parseWitnessVkey(w.vkey), url: w.url }],
    });
    w.trust(h.auditSigner.name, [h.auditSigner.verifier]);
    // Before the period: a grant (its expiry falls in the period).
    at('2026-06-30T23:00:00Z');
    expect((await ask('read', 'warm-up')).status).toBe(201);
    await settle();
    // In the period: a manager-approved grant taken and revoked, a denial, break-glass events by name.
    at('2026-07-02T10:00:00Z');
    const admin = await ask('admin', 'INC-1');
    expect(
      (await h.as('carol').post(`/v1/requests/${admin.body.id}/approve`, { comment: 'ticket checked' }))
        .status,
    ).toBe(200);
    await settle();
    expect((await h.as('alice').post(`/v1/requests/${admin.body.id}/credentials`)).status).toBe(200);
    at('2026-07-03T10:00:00Z');
    const denied = await ask('admin', 'INC-2');
    expect((await h.as('carol').post(`/v1/requests/${denied.body.id}/deny`, { comment: 'no' })).status).toBe(
      200,
    );
    at('2026-07-04T10:00:00Z');
    expect(
      (await h.as('alice').post(`/v1/requests/${admin.body.id}/revoke`, { comment: 'done' })).status,
    ).toBe(200);
    await settle();
    at('2026-08-01T09:00:00Z');
    const db = h.stint.deps.store.db;
    for (const [action, details] of [
      ['breakglass.invoked', { alert: true }],
      ['postmortem.opened', { postmortemId: 'pm1', due: '2026-08-08T09:00:00.000Z' }],
      ['drill.passed', { drillId: 'd1', steps: 5 }],
    ] as const) {
      await h.stint.audit.writer.append(db, {
        at: clock(),
        actor: 'stint',
        action,
        requestId: null,
        target: { resource: 'app-db' },
        details,
      });
    }
    await settle();
    // After the period: one more request.
    at('2026-10-01T01:00:00Z');
    expect((await ask('read', 'after')).status).toBe(201);
    await settle();
    const cp = await h.stint.audit.log.build({ checkpoint: true });
    if (cp) await h.stint.audit.witnesses.submit(cp);
    url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const r = await erin(
      'evidence',
      'export',
      '--period',
      '2026-Q3',
      '--key',
      h.auditSigner.vkey,
      '--out',
      pack,
    );
    // An auditor gets the first checkpoint signed past the period (signing one is for security and admins).
    expect(r.stderr).toMatch(
      /^(no checkpoint of size \d+ is stored: the export runs on to checkpoint \d+.*\n)?$/,
    );
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*q3\.tar\.gz\nverified evidence pack 2026-Q3 of stint-test\//);
    // A shared machine under load makes this slow (real PostgreSQL grants, a witness, two servers' worth of work).
  }, 180_000);
  afterAll(async () => {
    await h?.close();
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The period's seqs as the store has them: [first stamped in Q3, first stamped after it). */
  async function storeRange() {
    const rows = await h.stint.deps.store.db
      .selectFrom('audit_events')
      .select(['seq', 'at', 'action'])
      .orderBy('seq')
      .execute();
    const since = Date.parse('2026-07-01T00:00:00Z');
    const until = Date.parse('2026-10-01T00:00:00Z');
    const start = rows.find((r) => Number(r.at) >= since)?.seq as number;
    const end = rows.find((r) => Number(r.at) >= until)?.seq as number;
    return {
      rows: rows.filter((r) => r.seq >= start && r.seq < end),
      start: Number(start),
      end: Number(end),
    };
  }

  it('verifies offline and names every event of the period: counts per action, first and last seq', async () => {
    const r = await verify(pack, '--witness', w.vkey);
    expect(r.code, r.stdout).toBe(0);
    const { rows, start, end } = await storeRange();
    expect(r.json.events.start).toBe(start);
    expect(r.json.events.end).toBe(end);
    const byAction: Record<string, { count: number; firstSeq: number; lastSeq: number }> = {};
    for (const row of rows) {
      const c = byAction[row.action];
      const seq = Number(row.seq);
      if (c) {
        c.count++;
        c.lastSeq = seq;
      } else byAction[row.action] = { count: 1, firstSeq: seq, lastSeq: seq };
    }
    expect(r.json.events.byAction).toEqual(byAction);
    expect(r.json.events.count).toBe(rows.length);
    expect(r.json.events.purged).toBeNull();
    // What happened in Q3, by name.
    for (const action of [
      'request.created',
      'request.approved',
      'grant.activated',
      'credential.shown',
      'request.denied',
      'grant.revoked',
      'grant.expired',
      'breakglass.invoked',
      'postmortem.opened',
      'drill.passed',
    ]) {
      expect(byAction[action], action).toBeDefined();
    }
    expect(r.json.boundaries).toEqual({ start: 'event-before', end: 'event-after' });
    expect(r.json.access).toEqual({ requests: 3, madeInPeriod: 2 });
    expect(r.json.breakglass).toMatchObject({ uses: 1, postmortemEvents: 1, drillEvents: 1 });
    const use = byAction['breakglass.invoked']?.firstSeq as number;
    expect(r.json.proofs).toEqual({
      inclusion: [use],
      consistency: { old: r.json.checkpoint.size, new: expect.any(Number) },
    });
    expect(r.json.policies).toEqual([
      { version: h.stint.deps.policy.current().version, requests: 2, text: true },
    ]);
    // The newest checkpoint was cosigned by the witness, and that cosignature verifies with its key.
    expect(r.json.witnesses.some((c) => c.verifiedBy.includes('evidence.test/w1'))).toBe(true);
    const human = await run(['evidence', 'verify', pack, '--key', h.auditSigner.vkey], offline);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /^verified evidence pack 2026-Q3 of stint-test\/\S+: \d+ events, seq \d+\.\.\d+; checkpoint \d+/,
    );
    expect(human.stdout).toContain('recordings:');
    expect(human.stdout).toMatch(/│ request\.approved +│ 1 +│ \d+ +│ \d+ +│/);
    expect(human.stdout).toContain('(not checked: give --witness)');
  });

  it('holds who had what, when, why, approved by whom; no recorded sessions; the policy text; the index', async () => {
    const out = await mkdtemp(join(dir, 'x-'));
    const packDir = await extractPack(pack, out);
    const access = readFileSync(join(packDir, 'access.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const granted = access.find((a) => a.reason === 'INC-1');
    expect(granted).toMatchObject({
      requester: 'alice',
      resource: 'app-db',
      role: 'admin',
      tiers: ['manager'],
      approved: { by: ['carol'] },
      reviews: [{ reviewer: 'carol', decision: 'approve', comment: 'ticket checked' }],
      ended: { how: 'revoked', by: 'alice', comment: 'done' },
    });
    expect(granted.activated.expiresAt).toMatch(/^2026-07-02T/);
    expect(granted.credentialTaken).not.toBeNull();
    expect(granted.revocation.map((x: { outcome: string }) => x.outcome)).toContain('completed');
    expect(access.find((a) => a.reason === 'INC-2')).toMatchObject({
      ended: { how: 'denied', by: 'carol', comment: 'no' },
    });
    // Made before the period, expired in it: named by its events, its request marked as earlier.
    expect(access.find((a) => a.requested === null)).toMatchObject({
      resource: 'app-db',
      role: 'read',
      ended: { how: 'expired' },
    });
    const recordings = JSON.parse(readFileSync(join(packDir, 'recordings.json'), 'utf8'));
    // No session went through a proxy in this period: the section says so by being empty, with its note.
    expect(recordings).toMatchObject({ sessions: [], refused: [] });
    expect(recordings.note).toContain('recording.segment');
    const policy = h.stint.deps.policy.current();
    expect(readFileSync(join(packDir, `policies/${policy.version}.yaml`), 'utf8')).toBe(policy.source);
    // The break-glass use's inclusion proof travels alone: stint audit check-proof takes it with the key only.
    const proofs =
      readFileSync(join(packDir, 'evidence.json'), 'utf8').match(/proofs\/inclusion-\d+\.json/g) ?? [];
    expect(proofs).toHaveLength(1);
    const alone = await run(
      ['audit', 'check-proof', join(packDir, proofs[0] as string), '--key', h.auditSigner.vkey],
      offline,
    );
    expect(alone.code, alone.stdout + alone.stderr).toBe(0);
    const index = readFileSync(join(packDir, 'README.md'), 'utf8');
    for (const control of ['10.2.1', '10.3.2', '10.4.1', '10.5.1', 'CC6.1', 'CC7.2'])
      expect(index).toContain(control);
    expect(index).toContain('No event of this period was purged');
    await rm(out, { recursive: true, force: true });
  });

  /** Unpacks, changes, recomputes the manifest's file hashes (as a forger would), and packs again. */
  async function forged(
    name: string,
    change: (packDir: string, m: EvidenceManifest) => Promise<void> | void,
  ) {
    const out = await mkdtemp(join(dir, 'forge-'));
    const packDir = await extractPack(pack, out);
    const m = JSON.parse(readFileSync(join(packDir, 'evidence.json'), 'utf8')) as EvidenceManifest;
    await change(packDir, m);
    m.files = await fileEntries(packDir);
    writeFileSync(join(packDir, 'evidence.json'), `${JSON.stringify(m, null, 2)}\n`);
    const file = join(dir, `${name}.tar.gz`);
    await archivePack(packDir, file);
    await rm(out, { recursive: true, force: true });
    return file;
  }

  it('a derived file that says other than the events is found, even with the hashes redone', async () => {
    const file = await forged('access', (d) => {
      const p = join(d, 'access.jsonl');
      writeFileSync(p, readFileSync(p, 'utf8').replace('"ticket checked"', '"looked fine"'));
    });
    const r = await verify(file);
    expect(r.code).toBe(1);
    expect(r.json.problem).toMatchObject({ code: 'DERIVED' });
    expect(r.json.problem?.message).toContain('access.jsonl');
  });

  it('an event changed in the audit export fails its proof against the signed checkpoint', async () => {
    const file = await forged('event', (d) => {
      const audit = JSON.parse(readFileSync(join(d, 'audit/manifest.json'), 'utf8')) as {
        files: { name: string }[];
      };
      const changed = audit.files
        .filter((f) => f.name.startsWith('events-'))
        .map((f) => join(d, 'audit', f.name))
        .filter((p) => readFileSync(p, 'utf8').includes('\\"INC-2\\"'));
      expect(changed).toHaveLength(1);
      const p = changed[0] as string;
      writeFileSync(p, readFileSync(p, 'utf8').replace('\\"INC-2\\"', '\\"INC-3\\"'));
    });
    const r = await verify(file);
    expect(r.code).toBe(1);
    expect(r.json.problem).toMatchObject({ code: 'AUDIT' });
    expect(r.json.problem?.auditCode).toMatch(/CHANGED|MALFORMED/);
  });

  it('a pack that leaves out the period’s last event fails its boundary, everything else recomputed', async () => {
    const file = await forged('short', async (d, m) => {
      const segments = (
        JSON.parse(readFileSync(join(d, 'audit/manifest.json'), 'utf8')) as { files: { name: string }[] }
      ).files
        .map((f) => f.name)
        .filter((n) => n.startsWith('events-'));
      const b = createSectionBuilder(
        { since: new Date(m.period.since), until: new Date(m.period.until) },
        { start: m.events.start, end: m.events.end - 1 },
      );
      for (const s of segments) {
        for (const line of readFileSync(join(d, 'audit', s), 'utf8')
          .trimEnd()
          .split('\n')) {
          const { seq, body } = JSON.parse(line);
          b.add(seq, body);
        }
      }
      const sections = b.finish();
      writeFileSync(join(d, 'access.jsonl'), sections.access);
      writeFileSync(join(d, 'breakglass.json'), sections.breakglass);
      m.events = sections.summary;
    });
    const r = await verify(file);
    expect(r.code).toBe(1);
    expect(r.json.problem).toMatchObject({ code: 'BOUNDARY' });
    expect(r.json.problem?.message).toMatch(
      /just after the period's last, is stamped 2026-.*inside the period, yet left out/,
    );
  });

  it('a break-glass use without its inclusion proof is found', async () => {
    const file = await forged('proofless', async (d) => {
      for (const n of readdirSync(join(d, 'proofs')).filter((n) => n.startsWith('inclusion-')))
        rmSync(join(d, 'proofs', n));
    });
    const r = await verify(file);
    expect(r.code).toBe(1);
    expect(r.json.problem).toMatchObject({ code: 'PROOF' });
  });

  it('the wrong key, an archive holding anything else, or a link, is refused', async () => {
    const other = await run(
      [
        '--json',
        'evidence',
        'verify',
        pack,
        '--key',
        'other+00000000+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=',
      ],
      offline,
    );
    expect(other.code).not.toBe(0);
    const staging = await mkdtemp(join(dir, 'odd-'));
    const top = join(staging, 'stint-evidence-2026-Q3');
    await extractPack(pack, staging);
    writeFileSync(join(top, 'run-me.sh'), '#!/bin/sh\n');
    const extra = join(dir, 'extra.tar.gz');
    await create({ gzip: true, file: extra, cwd: staging, portable: true }, ['stint-evidence-2026-Q3']);
    const r1 = await verify(extra);
    expect(r1.json.problem).toMatchObject({ code: 'ARCHIVE' });
    expect(r1.json.problem?.message).toContain('run-me.sh');
    rmSync(join(top, 'run-me.sh'));
    await symlink('/etc/passwd', join(top, 'access.jsonl.link'));
    const linked = join(dir, 'linked.tar.gz');
    await create({ gzip: true, file: linked, cwd: staging, portable: true }, ['stint-evidence-2026-Q3']);
    const r2 = await verify(linked);
    expect(r2.json.problem).toMatchObject({ code: 'ARCHIVE' });
    await rm(staging, { recursive: true, force: true });
    const missing = await run(['evidence', 'verify', pack], offline);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--key');
  });

  it('only auditors, security and admins export; bad periods are refused before anything is written', async () => {
    const denied = await run([
      '--url',
      url,
      '--token',
      h.tokens.alice as string,
      'evidence',
      'export',
      '--period',
      '2026-Q3',
      '--key',
      h.auditSigner.vkey,
      '--out',
      join(dir, 'alice.tar.gz'),
    ]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('FORBIDDEN');
    const bad = await erin('evidence', 'export', '--period', '2026-Q9', '--out', join(dir, 'bad.tar.gz'));
    expect(bad.code).toBe(2);
    const exists = await erin('evidence', 'export', '--period', '2026-Q3', '--out', pack);
    expect(exists.code).toBe(2);
    expect(exists.stderr).toContain('exists');
  });

  // Last: it purges the period for good.
  it('a period whose events were purged says so: the pack runs on to the purge, and verifies', async () => {
    const purge = createAuditPurge({
      store: h.stint.deps.store,
      writer: h.stint.audit.writer,
      clock: () => new Date('2027-10-15T00:00:00Z'),
      retentionDays: 365,
    });
    expect((await purge()).purged).toBeGreaterThan(10);
    const cp = await h.stint.audit.log.build({ checkpoint: true });
    if (cp) await h.stint.audit.witnesses.submit(cp);
    const file = join(dir, 'purged.tar.gz');
    const r = await erin(
      'evidence',
      'export',
      '--period',
      '2026-Q3',
      '--key',
      h.auditSigner.vkey,
      '--out',
      file,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/events of the period were purged by retention: the pack runs on to seq \d+/);
    const v = await verify(file);
    expect(v.code, v.stdout).toBe(0);
    const { start, end } = await storeRange();
    expect(v.json.events.purged).toEqual({ count: end - start, ranges: [[start, end - 1]] });
    expect(v.json.events.byAction).toEqual({});
    expect(v.json.boundaries).toEqual({ start: 'event-before-purged', end: 'event-after-purged' });
    const out = await mkdtemp(join(dir, 'p-'));
    const index = readFileSync(join(await extractPack(file, out), 'README.md'), 'utf8');
    expect(index).toContain(`**${end - start} event(s) of this period were purged by retention**`);
    const human = await run(['evidence', 'verify', file, '--key', h.auditSigner.vkey], offline);
    expect(human.stdout).toMatch(
      /purged: +\d+ event\(s\) of the period, seq \d+\.\.\d+: hashes verified, content gone/,
    );
  });
});
