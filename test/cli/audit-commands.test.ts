import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../src/audit/log/base64.js';
import { leafMac, leafMacKeys } from '../../src/audit/log/leaf-mac.js';
import { parseSkey } from '../../src/audit/log/signed-note.js';
import { logKey, logSkey, makeLog, ORIGIN, otherKey, type SyntheticLog } from '../audit/export-fixtures.js';
import { type FakeStint, type Received, type Route, run, startFakeStint } from './support.js';

const TOKEN = 'stint_tok.auditor-token';
const VKEY = logKey.vkey;
const KEY_HASH = logKey.keyId.toString(16).padStart(8, '0');
const dir = mkdtempSync(join(tmpdir(), 'stint-audit-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const tmp = (name: string) => join(dir, `${files++}-${name}`);

/** What the fake server serves: a log, how much of it, and which sizes it has signed. */
interface Served {
  log: SyntheticLog;
  size: number;
  checkpoints: number[];
  /** Edits the leaves on the way out (a DBA with full access). */
  tamper?: (leaves: { seq: number; body: string | null; leafHash: string; mac?: string | null }[]) => void;
  /** What GET /v1/audit/proof/consistency says of stored checkpoints (null: none stored of that size). */
  storedNotes?: boolean;
}

const error = (status: number, code: string, message: string) => ({
  status,
  body: { error: { code, message } },
});

/** The audit routes of the server contract, answered from a synthetic log. */
function auditRoutes(s: Served): Record<string, Route> {
  const latest = () => Math.max(...s.checkpoints);
  const note = (size: number) => s.log.checkpoint(size);
  const q = (r: Received, name: string) => Number(r.query[name]);
  return {
    'GET /v1/audit/key': { body: { origin: ORIGIN, keys: [{ vkey: VKEY }] } },
    'GET /audit/checkpoint': () => ({ body: note(latest()) }),
    'GET /v1/audit/checkpoints': (r) => ({
      body: {
        checkpoints: [...s.checkpoints]
          .sort((a, b) => b - a)
          .slice(0, q(r, 'limit'))
          .map((size) => ({ size, note: note(size), createdAt: '2025-06-01T11:00:00.000Z' })),
      },
    }),
    'POST /v1/audit/checkpoints': (r) => {
      const size = (r.body as { size: number }).size;
      if (size > s.size) return error(400, 'INVALID_ARGUMENT', `size ${size} is past the tree`);
      return { body: { size, note: note(size), createdAt: '2025-06-01T12:00:00.000Z' } };
    },
    'GET /v1/audit/leaves': (r) => {
      const start = q(r, 'start');
      const leaves = s.log.leaves(Math.min(start, s.size), Math.min(start + q(r, 'limit'), s.size));
      s.tamper?.(leaves);
      return { body: { leaves } };
    },
    'GET /v1/audit/range': (r) => {
      const since = Date.parse(r.query.since ?? '');
      const until = Date.parse(r.query.until ?? '');
      const seqs = s.log.times.map((t, seq) => ({ t: t.getTime(), seq })).filter((e) => e.seq < s.size);
      const first = seqs.find((e) => e.t >= since)?.seq ?? s.size;
      const end = seqs.find((e) => e.t >= until)?.seq ?? s.size;
      return { body: { start: first, end: Math.max(first, end) } };
    },
    'GET /v1/audit/frontier': (r) => ({ body: { size: q(r, 'size'), hashes: s.log.frontier(q(r, 'size')) } }),
    'GET /v1/audit/proof/inclusion': (r) => {
      const size = r.query.size ? q(r, 'size') : latest();
      const seq =
        r.query.seq !== undefined
          ? q(r, 'seq')
          : s.log.bodies.findIndex((b) => b?.includes(`"id":"${r.query.event}"`));
      if (seq < 0) return error(404, 'NOT_FOUND', 'no such event');
      const [leaf] = s.log.leaves(seq, seq + 1);
      return {
        body: {
          seq,
          size,
          leafHash: leaf?.leafHash,
          body: leaf?.body,
          proof: s.log.inclusion(seq, size),
          checkpoint: s.checkpoints.includes(size) ? note(size) : null,
        },
      };
    },
    'GET /v1/audit/proof/consistency': (r) => {
      const [o, n] = [q(r, 'old'), q(r, 'new')];
      if (n > s.size) return error(400, 'BAD_REQUEST', `new size ${n} is beyond the ${s.size} events`);
      const stored = (size: number) =>
        s.storedNotes === false || !s.checkpoints.includes(size) ? null : note(size);
      return {
        body: {
          old: o,
          new: n,
          proof: s.log.consistency(o, n),
          oldCheckpoint: stored(o),
          newCheckpoint: stored(n),
        },
      };
    },
    'GET /v1/audit/events': (r) => {
      const after = r.query.after === undefined ? -1 : q(r, 'after');
      const limit = q(r, 'limit') || 100;
      const events = s.log
        .leaves(Math.min(after + 1, s.size), Math.min(after + 1 + limit, s.size))
        .map((leaf) => {
          const body = leaf.body === null ? null : JSON.parse(leaf.body);
          return {
            seq: leaf.seq,
            id: body?.id ?? `purged-${leaf.seq}`,
            at: body?.time ?? '2025-03-01T00:00:00.000Z',
            actor: body?.actor ?? '-',
            action: body?.action ?? '-',
            requestId: body?.requestId ?? null,
            details: body?.details ?? { purged: true },
            body,
          };
        });
      return { body: { events } };
    },
  };
}

const log = makeLog(100);
let stint: FakeStint;
let served: Served;
const serve = (s: Served) => {
  served = s;
  for (const key of Object.keys(stint.routes)) delete stint.routes[key];
  Object.assign(stint.routes, auditRoutes(s));
};
const cli = (argv: string[], env: Record<string, string> = {}) =>
  run(['--url', stint.url, '--token', TOKEN, ...argv], { env });

beforeAll(async () => {
  stint = await startFakeStint({});
});
afterAll(() => stint.close());
beforeEach(() => {
  stint.received.length = 0;
  serve({ log, size: 100, checkpoints: [10, 64, 100] });
});

const VERIFIED_100 = new RegExp(
  `^verified 100 events up to checkpoint 100 \\([A-Za-z0-9+/]{12}…, signed by stint\\.test/audit\\+${KEY_HASH}\\)\\n$`,
);

describe('stint audit verify (against a server it does not trust)', () => {
  it('recomputes the trail with a pinned key, says so in one line and remembers the checkpoint', async () => {
    const state = tmp('state.json');
    const r = await cli(['audit', 'verify', '--key', VKEY, '--state', state]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(VERIFIED_100);
    const saved = JSON.parse(readFileSync(state, 'utf8'));
    expect(saved.logs[ORIGIN]).toMatchObject({ size: 100, note: log.checkpoint(100) });
    expect(stint.received.map((x) => `${x.method} ${x.path}`)).toContain('GET /v1/audit/leaves');
    expect(stint.received.find((x) => x.path === '/v1/audit/leaves')?.query).toEqual({
      start: '0',
      limit: '10000',
    });
  });

  it('takes the key from STINT_AUDIT_KEY, as a vkey or a file of vkeys', async () => {
    const keyFile = tmp('log.vkey');
    writeFileSync(keyFile, `# the log key\n${VKEY}\n`);
    for (const value of [VKEY, keyFile]) {
      const r = await cli(['audit', 'verify', '--state', tmp('state.json')], { STINT_AUDIT_KEY: value });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(VERIFIED_100);
    }
  });

  it('without a pinned key uses the server’s and warns that it was not pinned', async () => {
    const r = await cli(['audit', 'verify', '--state', tmp('state.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(VERIFIED_100);
    expect(r.stderr).toMatch(/^warning: the log key was not pinned/);
  });

  it('pages through more leaves than one page holds', async () => {
    const big = makeLog(23_456, { stepMs: 1000 });
    serve({ log: big, size: 23_456, checkpoints: [10_000, 23_000, 23_456] });
    const r = await cli(['audit', 'verify', '--key', VKEY, '--state', tmp('state.json')]);
    expect(r.stdout, r.stderr).toMatch(/^verified 23456 events up to checkpoint 23456 /);
    expect(stint.received.filter((x) => x.path === '/v1/audit/leaves').map((x) => x.query.start)).toEqual([
      '0',
      '10000',
      '20000',
    ]);
  });

  it('notes events not yet covered by a checkpoint', async () => {
    serve({ log, size: 100, checkpoints: [10, 64] });
    const r = await cli(['audit', 'verify', '--key', VKEY, '--state', tmp('state.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^verified 64 events up to checkpoint 64 /);
    expect(r.stderr).toMatch(/36 newer events are in order but not covered by a signed checkpoint yet/);
  });

  it('--signing-key-file checks every leaf MAC: a leaf a store writer added is FORGED', async () => {
    const keys = leafMacKeys([logKey]);
    const withMacs = (leaves: { seq: number; leafHash: string; mac?: string | null }[]) => {
      for (const l of leaves) l.mac = encodeBase64(leafMac(keys, l.seq, Buffer.from(l.leafHash, 'base64')));
    };
    const skeyFile = tmp('log.skey');
    writeFileSync(skeyFile, `# the server's key file\n${logSkey}\n`, { mode: 0o600 });
    const args = ['audit', 'verify', '--key', VKEY, '--signing-key-file', skeyFile, '--json'];
    served.tamper = withMacs;
    const good = await cli([...args, '--state', tmp('state.json')]);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, macs: { checked: 100, unchecked: 0 } });

    served.tamper = (leaves) => {
      withMacs(leaves);
      const leaf = leaves.find((l) => l.seq === 42) as { mac?: string | null };
      leaf.mac = null;
    };
    const forged = await cli([...args, '--state', tmp('state.json')]);
    expect(forged.code).toBe(1);
    expect(JSON.parse(forged.stdout)).toMatchObject({ ok: false, problem: { code: 'FORGED', index: 42 } });
    // Without the key nobody can tell: that is what witnesses and the server's own check are for.
    const blind = await cli(['audit', 'verify', '--key', VKEY, '--state', tmp('state.json')]);
    expect(blind.code).toBe(0);
  });

  it('a changed event in the database: FAILED: CHANGED at that event, exit 1', async () => {
    served.tamper = (leaves) => {
      const leaf = leaves.find((l) => l.seq === 42);
      if (leaf?.body) leaf.body = leaf.body.replace('ok 42', 'ok 43');
    };
    const r = await cli(['audit', 'verify', '--key', VKEY, '--state', tmp('state.json')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      'FAILED: CHANGED at event 42: event 42 does not hash to the leaf hash recorded for it\n',
    );
  });

  it('a deleted row: REMOVED; swapped rows: REORDERED', async () => {
    served.tamper = (leaves) => {
      leaves.splice(50, 1);
    };
    let r = await cli(['audit', 'verify', '--key', VKEY, '--state', tmp('state.json')]);
    expect(r).toMatchObject({ code: 1, stdout: expect.stringMatching(/^FAILED: REMOVED at event 50: /) });
    served.tamper = (leaves) => {
      [leaves[30], leaves[31]] = [leaves[31] as (typeof leaves)[0], leaves[30] as (typeof leaves)[0]];
    };
    r = await cli(['audit', 'verify', '--key', VKEY, '--state', tmp('state.json')]);
    expect(r).toMatchObject({ code: 1, stdout: expect.stringMatching(/^FAILED: REORDERED at event 30: /) });
  });

  it('a trail rolled back since the last run fails on the remembered checkpoint: MISSING', async () => {
    const state = tmp('state.json');
    expect((await cli(['audit', 'verify', '--key', VKEY, '--state', state])).code).toBe(0);
    // The whole store restored from an older backup: its own checkpoints end at 80 too.
    serve({ log, size: 80, checkpoints: [10, 64, 80] });
    const r = await cli(['audit', 'verify', '--key', VKEY, '--state', state]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^FAILED: MISSING at event 80: the events end at 80 but a signed checkpoint covers 100/,
    );
    // Without the remembered checkpoint, the rolled-back server looks fine: that is what --state is for.
    expect((await cli(['audit', 'verify', '--key', VKEY, '--state', tmp('fresh.json')])).code).toBe(0);
  });

  it('a trail rewritten and regrown (and re-signed) since the last run: FORK', async () => {
    const state = tmp('state.json');
    expect((await cli(['audit', 'verify', '--key', VKEY, '--state', state])).code).toBe(0);
    const forked = makeLog(130, { variantFrom: 70 });
    serve({ log: forked, size: 130, checkpoints: [10, 64, 130] });
    const r = await cli(['audit', 'verify', '--key', VKEY, '--state', state]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^FAILED: FORK at event 64: the events match the signed checkpoint of size 130 but not/,
    );
  });

  it('checkpoints copied to WORM storage catch a rollback the state file never saw', async () => {
    const worm = tmp('worm');
    mkdirSync(worm);
    writeFileSync(join(worm, 'checkpoint-000000000064.txt'), log.checkpoint(64));
    writeFileSync(join(worm, 'checkpoint-000000000100.txt'), log.checkpoint(100));
    writeFileSync(join(worm, 'unrelated.txt'), 'not a checkpoint');
    serve({ log, size: 80, checkpoints: [10, 64, 80] });
    const r = await cli([
      'audit',
      'verify',
      '--key',
      VKEY,
      '--state',
      tmp('state.json'),
      '--checkpoint',
      worm,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED: MISSING at event 80: /);
    const single = await cli([
      'audit',
      'verify',
      '--key',
      VKEY,
      '--state',
      tmp('state.json'),
      '--checkpoint',
      join(worm, 'checkpoint-000000000064.txt'),
    ]);
    expect(single.stdout).toMatch(/^verified 80 events up to checkpoint 80 /);
  });

  it('a checkpoint signed by another key: BAD_SIGNATURE', async () => {
    const r = await cli(['audit', 'verify', '--key', otherKey.vkey, '--state', tmp('state.json')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED: BAD_SIGNATURE: /);
  });

  it('--json prints the report as JSON', async () => {
    const r = await cli(['audit', 'verify', '--key', VKEY, '--state', tmp('state.json'), '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      events: 100,
      size: 100,
      origin: ORIGIN,
      pinned: true,
    });
  });

  it('refuses a private key or a bad key before calling the server', async () => {
    const skey = tmp('log.skey');
    writeFileSync(skey, 'PRIVATE+KEY+stint.test/audit+01234567+AAAA\n');
    let r = await cli(['audit', 'verify', '--key', skey]);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringMatching(/private signing key \(skey\)/) });
    r = await cli(['audit', 'verify', '--key', 'nonsense']);
    expect(r).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^error \[USAGE\]: --key is not a vkey/),
    });
    expect(stint.received).toEqual([]);
  });
});

describe('stint audit export, then verify --offline with no server', () => {
  const exportMarch = (state: string) =>
    cli([
      'audit',
      'export',
      '--since',
      '2025-03-02',
      '--until',
      '2025-03-03',
      '--key',
      VKEY,
      '--state',
      state,
      join(tmp('export'), 'march'),
    ]);

  it('carries the checkpoint verify remembered; a server rolled back below it fails with MISSING', async () => {
    const state = tmp('state.json');
    serve({ log, size: 100, checkpoints: [10, 64, 80] });
    expect((await cli(['audit', 'verify', '--key', VKEY, '--state', state])).code).toBe(0);
    serve({ log, size: 100, checkpoints: [10, 64, 100] });
    expect((await cli(['audit', 'verify', '--key', VKEY, '--state', state])).code).toBe(0);
    // The server's newest is 80 now, but 100 was verified: the export proves it reaches 100.
    serve({ log, size: 100, checkpoints: [10, 64, 80] });
    const ok = await exportMarch(state);
    expect(ok.code).toBe(0);
    const consistency = stint.received.find((x) => x.path === '/v1/audit/proof/consistency');
    expect(consistency?.query).toEqual({ old: '52', new: '100' });
    // Rolled back to 80 events: it cannot, and nothing is exported.
    serve({ log, size: 80, checkpoints: [10, 64, 80] });
    const r = await exportMarch(state);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED: MISSING at checkpoint 100: checkpoint 100 was signed but the server /);
  });

  it('writes day segments and proofs, checks them, and they verify with the server gone', async () => {
    const own = await startFakeStint(auditRoutes({ log, size: 100, checkpoints: [10, 64, 100] }));
    const out = join(tmp('export'), 'march');
    const r = await run([
      '--url',
      own.url,
      '--token',
      TOKEN,
      'audit',
      'export',
      '--since',
      '2025-03-02',
      '--until',
      '2025-03-03',
      '--key',
      VKEY,
      out,
    ]);
    const asked = own.received.map((x) => `${x.method} ${x.path}`);
    const range = own.received.find((x) => x.path === '/v1/audit/range');
    await own.close();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // 2025-03-02 and 2025-03-03 whole: hourly events 4..51.
    expect(range?.query).toEqual({ since: '2025-03-02T00:00:00.000Z', until: '2025-03-04T00:00:00.000Z' });
    expect(asked).toEqual(
      expect.arrayContaining([
        'POST /v1/audit/checkpoints',
        'GET /v1/audit/frontier',
        'GET /v1/audit/proof/consistency',
      ]),
    );
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^exported 48 events \(seq 4\.\.51\) to .*march: 2 day file\(s\), checkpoint 52$/,
    );
    expect(lines[1]).toMatch(/^verified 48 events up to checkpoint 52 \(/);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { name: string }) => f.name)).toEqual([
      'events-2025-03-02.jsonl',
      'events-2025-03-03.jsonl',
      'checkpoint.txt',
      'start.json',
      'consistency.json',
    ]);
    expect(JSON.parse(readFileSync(join(out, 'consistency.json'), 'utf8'))).toMatchObject({
      old: 52,
      new: 100,
    });

    // No server, no database, no network: only the directory and the key.
    const offline = await run(['audit', 'verify', '--offline', out, '--key', VKEY], {
      fetch: () => {
        throw new Error('offline verification must not use the network');
      },
    });
    expect(offline).toMatchObject({ code: 0, stderr: '' });
    expect(offline.stdout).toMatch(
      new RegExp(
        `^verified 48 events up to checkpoint 52 \\([A-Za-z0-9+/]{12}…, signed by stint\\.test/audit\\+${KEY_HASH}\\)\\n$`,
      ),
    );

    // One event edited in the archive.
    const seg = join(out, 'events-2025-03-03.jsonl');
    writeFileSync(seg, readFileSync(seg, 'utf8').replace('ok 30', 'ok 31'));
    const tampered = await run(['audit', 'verify', '--offline', out, '--key', VKEY]);
    expect(tampered).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^FAILED: CHANGED at event 30: /),
    });
  });

  it('--offline needs a pinned key and an existing directory', async () => {
    expect(await run(['audit', 'verify', '--offline', dir])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--offline needs --key/),
    });
    expect(await run(['audit', 'verify', '--offline', join(dir, 'nope'), '--key', VKEY])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/is not a directory/),
    });
  });

  it('refuses bad times and a non-empty directory', async () => {
    const base = ['audit', 'export', '--key', VKEY];
    expect(
      (await cli([...base, '--since', '2025-03-02T00:00:00', '--until', '2025-03-03', tmp('x')])).code,
    ).toBe(2);
    expect((await cli([...base, '--since', '2025-02-30', '--until', '2025-03-03', tmp('x')])).code).toBe(2);
    expect((await cli([...base, '--since', '2025-03-03', '--until', '2025-03-02', tmp('x')])).code).toBe(2);
    const full = tmp('full');
    mkdirSync(full);
    writeFileSync(join(full, 'something'), 'x');
    const r = await cli([...base, '--since', '2025-03-02', '--until', '2025-03-03', full]);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringMatching(/is not empty/) });
  });

  it('takes ISO times with a zone', async () => {
    const out = tmp('iso');
    const r = await cli([
      'audit',
      'export',
      '--key',
      VKEY,
      '--since',
      '2025-03-02T10:30:00+01:00',
      '--until',
      '2025-03-02T12:00:00Z',
      out,
    ]);
    expect(r.code).toBe(0);
    expect(stint.received.find((x) => x.path === '/v1/audit/range')?.query).toEqual({
      since: '2025-03-02T09:30:00.000Z',
      until: '2025-03-02T12:00:00.000Z',
    });
    expect(r.stdout).toMatch(/^exported 2 events \(seq 14\.\.15\)/);
  });
});

describe('stint audit prove, consistency and check-proof', () => {
  it('prove prints a bundle that check-proof accepts offline; a changed one fails', async () => {
    const id = JSON.parse(log.bodies[42] ?? '{}').id;
    const r = await cli(['audit', 'prove', id]);
    expect(r.code).toBe(0);
    const bundle = JSON.parse(r.stdout);
    expect(bundle).toMatchObject({
      kind: 'inclusion',
      seq: 42,
      size: 100,
      origin: ORIGIN,
      event: { id, seq: 42 },
    });
    expect(stint.received[0]?.query).toEqual({ event: id });
    const file = tmp('proof.json');
    writeFileSync(file, r.stdout);
    const ok = await run(['audit', 'check-proof', file, '--key', VKEY]);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toMatch(
      new RegExp(
        `^valid: event ${id} \\(seq 42\\) is included in checkpoint 100 \\(.{12}…, signed by stint\\.test/audit\\+${KEY_HASH}\\)\\n$`,
      ),
    );

    bundle.event.actor = 'mallory';
    writeFileSync(file, JSON.stringify(bundle));
    const bad = await run(['audit', 'check-proof', file, '--key', VKEY]);
    expect(bad).toMatchObject({
      code: 1,
      stdout: 'INVALID: CHANGED: the event does not hash to the leafHash the bundle records\n',
    });
    expect(await run(['audit', 'check-proof', file, '--key', otherKey.vkey])).toMatchObject({ code: 1 });
  });

  it('prove takes a sequence number and --size, asking for a checkpoint of that size if none is stored', async () => {
    let r = await cli(['audit', 'prove', '7', '--size', '64']);
    expect(JSON.parse(r.stdout)).toMatchObject({ seq: 7, size: 64, checkpoint: log.checkpoint(64) });
    expect(stint.received[0]?.query).toEqual({ seq: '7', size: '64' });
    expect(stint.received).toHaveLength(1);
    r = await cli(['audit', 'prove', '7', '--size', '50']);
    expect(JSON.parse(r.stdout)).toMatchObject({ seq: 7, size: 50, checkpoint: log.checkpoint(50) });
    expect(stint.received.at(-1)).toMatchObject({
      method: 'POST',
      path: '/v1/audit/checkpoints',
      body: { size: 50 },
    });
  });

  it('consistency prints both checkpoints, asking for one that is not stored', async () => {
    const r = await cli(['audit', 'consistency', '40', '100']);
    expect(r.code).toBe(0);
    expect(stint.received.map((x) => `${x.method} ${x.path} ${x.rawBody}`)).toContain(
      'POST /v1/audit/checkpoints {"size":40}',
    );
    const file = tmp('consistency.json');
    writeFileSync(file, r.stdout);
    const ok = await run(['audit', 'check-proof', file], { env: { STINT_AUDIT_KEY: VKEY } });
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toMatch(/^valid: checkpoint 40 \(.{12}…\) is a prefix of checkpoint 100 /);
    expect((await cli(['audit', 'consistency', '100', '40'])).code).toBe(2);
  });

  it('check-proof needs a key and a readable file', async () => {
    expect((await run(['audit', 'check-proof', tmp('none.json')])).code).toBe(2);
    expect(await run(['audit', 'check-proof', tmp('none.json'), '--key', VKEY])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error \[FILE_UNREADABLE\]/),
    });
    const junk = tmp('junk.json');
    writeFileSync(junk, 'not json');
    expect(await run(['audit', 'check-proof', junk, '--key', VKEY])).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^INVALID: MALFORMED: /),
    });
  });
});

describe('stint audit tail', () => {
  it('prints the newest events; --json one canonical event a line', async () => {
    const r = await cli(['audit', 'tail', '-n', '3', '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${[97, 98, 99].map((seq) => log.bodies[seq]).join('\n')}\n`);
    const human = await cli(['audit', 'tail', '-n', '2']);
    expect(human.stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(human.stdout).toMatch(/ 99 {2}/);
  });

  it('--after resumes a feed; --follow polls for new events until stopped', async () => {
    serve({ log, size: 60, checkpoints: [60] });
    let stop: (signal: string) => void = () => {};
    const stopped = new Promise<string>((resolve) => {
      stop = resolve;
    });
    let polls = 0;
    const events = stint.routes['GET /v1/audit/events'] as (r: Received) => { body: unknown };
    stint.routes['GET /v1/audit/events'] = (req) => {
      polls++;
      if (polls === 2) served.size = 63;
      if (polls === 4) stop('SIGINT');
      return events(req);
    };
    const r = await run(
      [
        '--url',
        stint.url,
        '--token',
        TOKEN,
        'audit',
        'tail',
        '--after',
        '57',
        '--follow',
        '--json',
        '--interval',
        '10',
      ],
      {
        untilShutdown: () => stopped,
      },
    );
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
    ).toEqual([58, 59, 60, 61, 62]);
  });
});

describe('stint audit key', () => {
  it('prints the origin, vkey and key hash', async () => {
    const r = await cli(['audit', 'key']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`origin: ${ORIGIN}\nvkey:     ${VKEY}\nkey hash: ${KEY_HASH}\n`);
  });

  it('--generate writes a 0600 skey and prints the vkey; never overwrites', async () => {
    const out = tmp('new.skey');
    const r = await run(['audit', 'key', '--generate', '--name', 'audit.example.com', '--out', out]);
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const signer = parseSkey(readFileSync(out, 'utf8'));
    expect(r.stdout).toContain(`vkey:     ${signer.vkey}\n`);
    expect(r.stdout).not.toContain('PRIVATE');
    expect(r.stderr).toMatch(/STINT_AUDIT_SIGNING_KEY_FILE/);
    const again = await run(['audit', 'key', '--generate', '--name', 'audit.example.com', '--out', out]);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringMatching(/already exists/) });
    expect(parseSkey(readFileSync(out, 'utf8')).vkey).toBe(signer.vkey);
  });

  it('--generate without --out prints the skey with a warning; needs a valid --name', async () => {
    const r = await run(['audit', 'key', '--generate', '--name', 'audit.example.com']);
    expect(r.stdout).toMatch(/^skey: +PRIVATE\+KEY\+audit\.example\.com\+/m);
    expect(r.stderr).toMatch(/private signing key/);
    expect((await run(['audit', 'key', '--generate'])).code).toBe(2);
    expect((await run(['audit', 'key', '--generate', '--name', 'has space'])).code).toBe(2);
  });
});
