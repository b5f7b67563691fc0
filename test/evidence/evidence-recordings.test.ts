import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { archivePack, extractPack } from '../../src/evidence/evidence-archive.js';
import type { EvidenceManifest } from '../../src/evidence/evidence-format.js';
import { fileEntries } from '../../src/evidence/evidence-pack.js';
import { parseAsciicast } from '../../src/recording/asciicast.js';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { type ProxyFixture, startFixture } from '../recording/fixture.js';
import { waitFor } from '../support/pg-client.js';

/**
 * Recorded sessions in the evidence pack: a real SSH session through the proxy (real sshd, real `ssh`), drawn for
 * review, claimed and judged, then exported with its segments' bytes and verified offline: the segment hashes come
 * from the signed audit events, and each segment file is checked against its own event.
 */
let f: ProxyFixture;
let url: string;
let pack: string;
let plain: string;
let sessionId: string;
let recordingId: string;
const offline = { fetch: () => Promise.reject(new Error('no network: verification is offline')) };

async function cli(user: string | null, args: string[], io: object = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(user ? ['--url', url, '--token', f.h.tokens[user] as string, ...args] : args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: {},
    ...io,
  });
  return { code, stdout, stderr };
}
const verify = async (file: string) => {
  const r = await cli(null, ['--json', 'evidence', 'verify', file, '--key', f.h.auditSigner.vkey], offline);
  return { ...r, json: JSON.parse(r.stdout || '{}') };
};

beforeAll(async () => {
  f = await startFixture({ storage: 'store', sampleRate: 0, segmentBytes: 4096 });
  url = await f.h.app.listen({ host: '127.0.0.1', port: 0 });
  // A critical resource: every session is drawn for review.
  const g = await f.grant({ resource: 'vault-host', approvers: ['sam'] });
  const r = await f.ssh(g.login, ['seq', '1', '2500']);
  expect(r.code, r.stderr).toBe(0);
  const db = recordingDb(f.h.stint.deps.store.db);
  const s = await waitFor(async () => {
    const [x] = await recordingStore.listSessions(db, { requestId: g.requestId, limit: 1 });
    return x?.ended_at ? x : null;
  });
  sessionId = s.id;
  recordingId = (await recordingStore.recordingsOf(db, s.id))[0]?.id as string;
  expect((await f.h.as('erin').post(`/v1/session-reviews/${sessionId}/claim`)).status).toBe(200);
  const verdict = await f.h.as('erin').post(`/v1/session-reviews/${sessionId}/verdict`, {
    verdict: 'ok',
    notes: 'routine maintenance',
  });
  expect(verdict.status).toBe(200);
  // The period: today and tomorrow (UTC), so it is still running when the pack is made.
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  await waitFor(async () => (await f.h.stint.audit.log.build({ checkpoint: true })) ?? true);
  pack = join(f.dir, 'with.tar.gz');
  plain = join(f.dir, 'plain.tar.gz');
  const range = ['--since', today, '--until', tomorrow, '--key', f.h.auditSigner.vkey];
  const withRecordings = await cli('erin', [
    'evidence',
    'export',
    ...range,
    '--out',
    pack,
    '--with-recordings',
  ]);
  expect(withRecordings.code, withRecordings.stdout + withRecordings.stderr).toBe(0);
  const without = await cli('erin', ['evidence', 'export', ...range, '--out', plain]);
  expect(without.code, without.stdout + without.stderr).toBe(0);
}, 180_000);
afterAll(async () => {
  await f?.close();
});

describe('recorded sessions in the evidence pack', () => {
  it('lists the session, its segment hashes as the trail holds them, and its review; verify checks the bytes', async () => {
    const r = await verify(pack);
    expect(r.code, r.stdout).toBe(0);
    const db = recordingDb(f.h.stint.deps.store.db);
    const segments = await recordingStore.segmentsOf(db, recordingId);
    expect(segments.length).toBeGreaterThanOrEqual(1);
    expect(r.json.recordings).toEqual({
      sessions: 1,
      recordings: 1,
      segments: segments.length,
      verdicts: 1,
      casts: segments.length,
    });

    const out = await mkdtemp(join(f.dir, 'x-'));
    const dir = await extractPack(pack, out);
    const section = JSON.parse(readFileSync(join(dir, 'recordings.json'), 'utf8'));
    const [session] = section.sessions;
    expect(session).toMatchObject({
      sessionId,
      requester: 'alice',
      resource: 'vault-host',
      ended: { reason: 'client disconnected' },
      review: {
        drawn: { selected: true, reasons: ['critical'] },
        claims: [{ action: 'claimed', by: 'erin', claimant: 'erin' }],
        verdict: { reviewer: 'erin', verdict: 'ok', notes: 'routine maintenance' },
      },
    });
    expect(session.recordings[0].recordingId).toBe(recordingId);
    expect(session.recordings[0].command).toContain('seq 1 2500');
    expect(session.recordings[0].segments.map((g: { sha256: string }) => g.sha256)).toEqual(
      segments.map((g) => g.sha256),
    );
    // The bytes are the recording: concatenated, they are what the server plays.
    const files = readdirSync(join(dir, 'recordings', recordingId)).sort();
    const bytes = files.map((n) => readFileSync(join(dir, 'recordings', recordingId, n))).join('');
    const output = parseAsciicast(bytes)
      .events.map((e) => e[2])
      .join('');
    expect(output).toContain('\n2499\n2500\n');
    const index = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(index).toContain(`the bytes of ${segments.length} sealed segment(s)`);
    await rm(out, { recursive: true, force: true });

    const human = await cli(null, ['evidence', 'verify', pack, '--key', f.h.auditSigner.vkey], offline);
    expect(human.stdout).toMatch(
      new RegExp(
        `recordings: +1 session\\(s\\), 1 recording\\(s\\), ${segments.length} sealed segment\\(s\\), 1 verdict\\(s\\); ${segments.length} segment file\\(s\\) checked`,
      ),
    );
  });

  it('without --with-recordings carries the hashes and no bytes', async () => {
    const r = await verify(plain);
    expect(r.code, r.stdout).toBe(0);
    expect(r.json.recordings).toMatchObject({ sessions: 1, verdicts: 1, casts: 0 });
    const out = await mkdtemp(join(f.dir, 'y-'));
    const dir = await extractPack(plain, out);
    expect(readdirSync(dir)).not.toContain('recordings');
    await rm(out, { recursive: true, force: true });
  });

  /** Unpacks, changes, recomputes the manifest's file hashes (as a forger would), and packs again. */
  async function forged(name: string, change: (dir: string) => void) {
    const out = await mkdtemp(join(f.dir, 'forge-'));
    const dir = await extractPack(pack, out);
    change(dir);
    const m = JSON.parse(readFileSync(join(dir, 'evidence.json'), 'utf8')) as EvidenceManifest;
    m.files = await fileEntries(dir);
    writeFileSync(join(dir, 'evidence.json'), `${JSON.stringify(m, null, 2)}\n`);
    const file = join(f.dir, `${name}.tar.gz`);
    await archivePack(dir, file);
    await rm(out, { recursive: true, force: true });
    return file;
  }

  it('finds a segment changed, or one no audit event names, even with the manifest redone', async () => {
    const changed = await forged('changed', (dir) => {
      const p = join(dir, 'recordings', recordingId, '000000.cast');
      writeFileSync(p, `${readFileSync(p, 'utf8')}[9.9,"o","rm -rf /"]\n`);
    });
    const r = await verify(changed);
    expect(r.code).toBe(1);
    expect(r.json.problem).toMatchObject({ code: 'RECORDING' });
    expect(r.json.problem.message).toMatch(/000000\.cast does not match its recording\.segment event/);

    const extra = await forged('extra', (dir) => {
      writeFileSync(join(dir, 'recordings', recordingId, '000099.cast'), '[0.1,"o","planted"]\n');
    });
    const e = await verify(extra);
    expect(e.json.problem).toMatchObject({ code: 'RECORDING' });
    expect(e.json.problem.message).toMatch(/000099\.cast is no segment sealed in the period/);

    // The hashes in recordings.json are derived from the signed events: changing one there is found too.
    const section = await forged('section', (dir) => {
      const p = join(dir, 'recordings.json');
      writeFileSync(p, readFileSync(p, 'utf8').replace('"verdict": "ok"', '"verdict": "concern"'));
    });
    expect((await verify(section)).json.problem).toMatchObject({ code: 'DERIVED' });
  });
});
