import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { parseAsciicast } from '../../src/recording/asciicast.js';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { drawOf, seedIdOf } from '../../src/recording/session-review/sampling.js';
import { waitFor } from '../support/pg-client.js';
import { type Granted, type ProxyFixture, startFixture } from './fixture.js';

/**
 * The session review queue, on sessions made through the proxy: which sessions are drawn (all critical, incident
 * and break-glass ones; a seeded share of the rest, re-drawable by an auditor), who may watch and judge them
 * (security and auditors; never the session's own user nor an approver of its request), and the CLI.
 */
let f: ProxyFixture;
beforeAll(async () => {
  // No routine session is sampled at rate 0: whatever is queued here is queued for a reason that is not luck.
  // Recordings in the store: the application's own routes (the harness's) play them, as any server would.
  f = await startFixture({ storage: 'store', sampleRate: 0 });
});
afterAll(async () => {
  await f?.close();
});

const db = () => recordingDb(f.h.stint.deps.store.db);

/** Logs in through the proxy, runs a command, and answers the session once it has ended. */
async function session(g: Granted, command = ['echo', 'reviewed-output']) {
  const r = await f.ssh(g.login, command);
  expect(r.code, r.stderr).toBe(0);
  return waitFor(async () => {
    const [s] = await recordingStore.listSessions(db(), { requestId: g.requestId, limit: 1 });
    return s?.ended_at ? s : null;
  });
}

async function queued(sessionId: string) {
  return db()
    .selectFrom('session_reviews')
    .selectAll()
    .where('session_id', '=', sessionId)
    .executeTakeFirst();
}

describe('which sessions are drawn', () => {
  it('queues every session on a critical resource, and records the draw so an auditor can redo it', async () => {
    for (let i = 0; i < 3; i++) {
      const g = await f.grant({ resource: 'vault-host', approvers: ['sam'] });
      const s = await session(g);
      const row = await queued(s.id);
      expect(row?.state).toBe('queued');
      expect(JSON.parse(row?.reasons ?? '[]')).toEqual(['critical']);
      const drawn = (await f.events(g.requestId)).find((e) => e.action === 'session_review.drawn');
      const { seed } = await db().selectFrom('session_review_seed').select('seed').executeTakeFirstOrThrow();
      expect(drawn?.details).toMatchObject({
        sessionId: s.id,
        draw: drawOf(seed, s.id),
        rate: 0,
        seedId: seedIdOf(seed),
        selected: true,
        reasons: ['critical'],
      });
    }
  });

  it('queues incident-linked and break-glass sessions, and not a routine one the draw passed over', async () => {
    const incident = await f.grant({ reason: 'INC-4242' });
    expect(JSON.parse((await queued((await session(incident)).id))?.reasons ?? '[]')).toEqual(['incident']);

    const breakGlass = await f.grant();
    // Break-glass marks its grant in the audit trail; the queue reads the mark by event.
    await f.h.stint.audit.writer.append(f.h.stint.deps.store.db, {
      at: new Date(),
      actor: 'alice',
      action: 'breakglass.activated',
      requestId: breakGlass.requestId,
      details: { review: 'required' },
    });
    expect(JSON.parse((await queued((await session(breakGlass)).id))?.reasons ?? '[]')).toEqual([
      'break-glass',
    ]);

    const routine = await f.grant();
    const s = await session(routine);
    expect(await queued(s.id)).toBeUndefined();
    const drawn = (await f.events(routine.requestId)).find((e) => e.action === 'session_review.drawn');
    expect(drawn?.details).toMatchObject({ selected: false, reasons: [] });
  });

  it('draws about 5 % at rate 0.05, from the seed and the session id alone', () => {
    const seed = 'ab'.repeat(32);
    let hits = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) if (drawOf(seed, `ses_${i.toString(36)}xxxxxxxx`) < 0.05) hits++;
    expect(hits / n).toBeGreaterThan(0.04);
    expect(hits / n).toBeLessThan(0.06);
    expect(drawOf(seed, 'ses_same0000')).toBe(drawOf(seed, 'ses_same0000'));
    expect(drawOf('cd'.repeat(32), 'ses_same0000')).not.toBe(drawOf(seed, 'ses_same0000'));
  });
});

describe('watching and judging', () => {
  let critical: { requestId: string; sessionId: string; recordingId: string };
  beforeAll(async () => {
    const g = await f.grant({ resource: 'vault-host', approvers: ['sam'] });
    const s = await session(g, ['printf', 'secret-work-done\\n']);
    const [r] = await recordingStore.recordingsOf(db(), s.id);
    critical = { requestId: g.requestId, sessionId: s.id, recordingId: r?.id as string };
  });

  it('lists the queue and plays recordings for security and auditors only', async () => {
    for (const user of ['erin', 'sam', 'dave']) {
      const list = await f.h.as(user).get('/v1/session-reviews');
      expect(list.status).toBe(200);
      expect(list.body.reviews.map((r: { sessionId: string }) => r.sessionId)).toContain(critical.sessionId);
    }
    for (const user of ['alice', 'carol', 'root', 'mallory']) {
      expect((await f.h.as(user).get('/v1/session-reviews')).status).toBe(403);
      expect((await f.h.as(user).get(`/v1/recordings/${critical.recordingId}/cast`)).status).toBe(403);
    }
    const cast = await f.h.app.inject({
      method: 'GET',
      url: `/v1/recordings/${critical.recordingId}/cast`,
      headers: { authorization: `Bearer ${f.h.tokens.erin}` },
    });
    expect(cast.statusCode).toBe(200);
    expect(cast.headers['content-type']).toContain('application/x-asciicast');
    expect(
      parseAsciicast(cast.body)
        .events.map((e) => e[2])
        .join(''),
    ).toContain('secret-work-done');
    const detail = await f.h.as('erin').get(`/v1/recorded-sessions/${critical.sessionId}`);
    expect(detail.body.review).toMatchObject({ state: 'queued', reasons: ['critical'] });
    expect(detail.body.recordings[0].segments[0]).toMatchObject({ state: 'sealed', recovered: false });
  });

  it('takes a verdict from neither the session’s user nor its approver, once, and audits it', async () => {
    // sam approved the request.
    const byApprover = await f.h
      .as('sam')
      .post(`/v1/session-reviews/${critical.sessionId}/verdict`, { verdict: 'ok' });
    expect(byApprover.status).toBe(403);
    expect(byApprover.body.error.message).toMatch(/approved/);
    const byUser = await f.h
      .as('alice')
      .post(`/v1/session-reviews/${critical.sessionId}/verdict`, { verdict: 'ok' });
    expect(byUser.status).toBe(403);
    const bad = await f.h
      .as('dave')
      .post(`/v1/session-reviews/${critical.sessionId}/verdict`, { verdict: 'fine' });
    expect(bad.status).toBe(400);

    const done = await f.h.as('dave').post(`/v1/session-reviews/${critical.sessionId}/verdict`, {
      verdict: 'concern',
      notes: 'ran printf as root?',
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ state: 'completed', verdict: 'concern', reviewer: 'dave' });
    const again = await f.h
      .as('erin')
      .post(`/v1/session-reviews/${critical.sessionId}/verdict`, { verdict: 'ok' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('ALREADY_REVIEWED');
    const event = (await f.events(critical.requestId)).find((e) => e.action === 'session_review.completed');
    expect(event?.details).toMatchObject({
      sessionId: critical.sessionId,
      verdict: 'concern',
      notes: 'ran printf as root?',
    });
  });

  it('refuses a reviewer their own session', async () => {
    const g = await f.grant({ reason: 'INC-77' });
    // sam asks too (sam is in the crew as well as security).
    const own = await f.grant({ reason: 'INC-78', requester: 'sam' });
    await session(g);
    const s = await session(own);
    const res = await f.h.as('sam').post(`/v1/session-reviews/${s.id}/verdict`, { verdict: 'ok' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('SELF_APPROVAL');
  });

  it('refuses to serve a recording whose bytes no longer match its hash in the audit trail', async () => {
    const g = await f.grant({ resource: 'vault-host', approvers: ['sam'] });
    const s = await session(g, ['echo', 'to-be-altered']);
    const [r] = await recordingStore.recordingsOf(db(), s.id);
    const play = () =>
      f.h.app.inject({
        method: 'GET',
        url: `/v1/recordings/${r?.id}/cast`,
        headers: { authorization: `Bearer ${f.h.tokens.erin}` },
      });
    expect((await play()).statusCode).toBe(200);
    // Someone with write access to the store rewrites what was shown (the row's hash too: only the trail is signed).
    const chunk = await db()
      .selectFrom('recording_chunks')
      .selectAll()
      .where('recording_id', '=', r?.id as string)
      .orderBy('n', 'desc')
      .executeTakeFirstOrThrow();
    const forged = Buffer.from(
      Buffer.from(chunk.data).toString('utf8').replace('to-be-altered', 'nothing-to-see'),
    );
    await db()
      .updateTable('recording_chunks')
      .set({ data: forged })
      .where('recording_id', '=', chunk.recording_id)
      .where('segment', '=', chunk.segment)
      .where('n', '=', chunk.n)
      .execute();
    await db()
      .updateTable('recording_segments')
      .set({ sha256: createHash('sha256').update(forged).digest('hex') })
      .where('recording_id', '=', r?.id as string)
      .execute();
    const res = await play();
    expect(res.statusCode).toBe(500);
    expect(res.json().error.message).toMatch(/does not match its hash in the audit trail/);
  });
});

describe('stint recordings', () => {
  it('lists the queue, plays a recording and records a verdict', async () => {
    const url = await f.h.app.listen({ host: '127.0.0.1', port: 0 });
    const g = await f.grant({ resource: 'vault-host', approvers: ['sam'] });
    const s = await session(g, ['echo', 'played-back']);
    const [r] = await recordingStore.recordingsOf(db(), s.id);
    const cli = async (user: string, args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(
        ['--url', url, '--token', f.h.tokens[user] as string, 'recordings', ...args],
        {
          stdout: { write: (t: string) => (stdout += t) },
          stderr: { write: (t: string) => (stderr += t) },
          env: {},
        },
      );
      return { code, stdout, stderr };
    };
    const list = await cli('erin', ['list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(s.id);
    const raw = await cli('erin', ['play', r?.id as string, '--raw']);
    expect(raw.code).toBe(0);
    expect(parseAsciicast(raw.stdout).header.version).toBe(2);
    const played = await cli('erin', ['play', s.id, '--speed', '100']);
    expect(played.stdout).toContain('played-back');
    const shown = await cli('erin', ['show', s.id]);
    expect(shown.stdout).toMatch(/segment 0: sealed sha256 [0-9a-f]{64}/);
    const review = await cli('erin', ['review', s.id, '--verdict', 'ok', '--notes', 'looked fine']);
    expect(review.stderr).toBe('');
    expect(review.stdout).toContain(`${s.id}: ok (reviewed by erin)`);
    const denied = await cli('alice', ['list']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('FORBIDDEN');
  });
});
