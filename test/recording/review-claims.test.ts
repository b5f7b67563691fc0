import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../src/audit/audit-store.js';
import { runCli } from '../../src/cli/program.js';
import type { CommittedEvent } from '../../src/notify/cursor.js';
import { audiencesOf } from '../../src/notify/routing.js';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { createReviewReminders, DUE_SOON_MS } from '../../src/recording/session-review/review-reminders.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

const DAY = 24 * 60 * 60 * 1000;

/**
 * Claiming queued session reviews and their reminders, on both stores: the rows are a session the proxy would
 * have recorded (the proxy itself is tested in session-review.test.ts), under a real request that sam approved.
 */
describe.each(STORE_KINDS)('session review claims and reminders (%s store)', (kind) => {
  let h: Harness;
  let requestId: string;
  let n = 0;
  beforeAll(async () => {
    h = await createHarness(kind);
    const r = await activeGrant(h, { resource: 'prod-db', role: 'ops', approvers: ['sam'] });
    requestId = r.id as string;
  });
  afterAll(async () => {
    await h?.close();
  });

  const db = () => recordingDb(h.stint.deps.store.db);

  /** A recorded session of alice's (or `requester`'s) in the review queue, due at `dueAt`. */
  async function queued(opts: { requester?: string; createdAt?: number; dueAt?: number } = {}) {
    n += 1;
    const id = `ses_claims${kind.slice(0, 2)}${String(n).padStart(6, '0')}`;
    const createdAt = opts.createdAt ?? Date.now();
    await recordingStore.insertSession(db(), {
      id,
      request_id: requestId,
      requester: opts.requester ?? 'alice',
      resource: 'prod-db',
      role: 'ops',
      sensitivity: 'critical',
      protocol: 'ssh',
      account: 'ops',
      client: '10.0.0.1',
      server: 'test/1',
      started_at: createdAt,
      ended_at: createdAt + 1000,
      end_reason: 'client disconnected',
      heartbeat_at: createdAt,
    });
    await db()
      .insertInto('session_reviews')
      .values({
        session_id: id,
        request_id: requestId,
        requester: opts.requester ?? 'alice',
        resource: 'prod-db',
        reasons: JSON.stringify(['critical']),
        draw: '0.5',
        rate: '0',
        state: 'queued',
        created_at: createdAt,
        due_at: opts.dueAt ?? createdAt + 7 * DAY,
        verdict: null,
        notes: null,
        reviewer: null,
        completed_at: null,
      })
      .execute();
    return id;
  }

  const row = (id: string) =>
    db().selectFrom('session_reviews').selectAll().where('session_id', '=', id).executeTakeFirstOrThrow();
  const events = async (action: string, sessionId: string) =>
    (await listAudit(h.stint.deps.store.db, { requestId, limit: 10_000 })).filter(
      (e) => e.action === action && e.details.sessionId === sessionId,
    );

  it('lets one watcher claim a session, refuses everyone else, and audits the claim once', async () => {
    const id = await queued();
    const claimed = await h.as('erin').post(`/v1/session-reviews/${id}/claim`);
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject({ sessionId: id, claimedBy: 'erin', overdue: false });
    // Claiming one's own claim again writes nothing.
    expect((await h.as('erin').post(`/v1/session-reviews/${id}/claim`)).status).toBe(200);
    expect(await events('session_review.claimed', id)).toHaveLength(1);

    const before = await row(id);
    const other = await h.as('dave').post(`/v1/session-reviews/${id}/claim`);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('SESSION_REVIEW_CLAIMED');
    const verdict = await h.as('dave').post(`/v1/session-reviews/${id}/verdict`, { verdict: 'ok' });
    expect(verdict.body.error.code).toBe('SESSION_REVIEW_CLAIMED');
    expect(await row(id)).toEqual(before);

    const queue = await h.as('dave').get('/v1/session-reviews');
    expect(queue.body.reviews.find((r: { sessionId: string }) => r.sessionId === id)).toMatchObject({
      claimedBy: 'erin',
      dueAt: new Date(Number(before.due_at)).toISOString(),
      overdue: false,
    });

    // The claimant gives the verdict.
    const done = await h.as('erin').post(`/v1/session-reviews/${id}/verdict`, { verdict: 'concern' });
    expect(done.body).toMatchObject({ state: 'completed', reviewer: 'erin', claimedBy: 'erin' });
    expect((await h.as('erin').post(`/v1/session-reviews/${id}/release`)).body.error.code).toBe(
      'ALREADY_REVIEWED',
    );
  });

  it('takes the verdict’s rules: not the session’s own user, not an approver of its request, not a non-watcher', async () => {
    const ownedByDave = await queued({ requester: 'dave' });
    const self = await h.as('dave').post(`/v1/session-reviews/${ownedByDave}/claim`);
    expect([self.status, self.body.error.code]).toEqual([403, 'SELF_APPROVAL']);
    const id = await queued();
    const approver = await h.as('sam').post(`/v1/session-reviews/${id}/claim`);
    expect([approver.status, approver.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(approver.body.error.message).toMatch(/approved req_/);
    for (const user of ['alice', 'root', 'carol'])
      expect((await h.as(user).post(`/v1/session-reviews/${id}/claim`)).status).toBe(403);
    expect((await row(id)).claimed_by).toBeNull();
    expect(await events('session_review.claimed', id)).toHaveLength(0);
  });

  it('releases: the claimant, or security for someone else’s claim (who is told); an auditor cannot take over', async () => {
    const id = await queued();
    expect((await h.as('erin').post(`/v1/session-reviews/${id}/release`)).body.error.code).toBe(
      'INVALID_TRANSITION',
    );
    expect((await h.as('dave').post(`/v1/session-reviews/${id}/claim`)).status).toBe(200);
    const auditor = await h.as('erin').post(`/v1/session-reviews/${id}/release`);
    expect([auditor.status, auditor.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect((await row(id)).claimed_by).toBe('dave');

    expect((await h.as('dave').post(`/v1/session-reviews/${id}/release`)).body.claimedBy).toBeNull();
    expect((await h.as('erin').post(`/v1/session-reviews/${id}/claim`)).status).toBe(200);
    const bySecurity = await h.as('dave').post(`/v1/session-reviews/${id}/release`);
    expect(bySecurity.status).toBe(200);
    const released = await events('session_review.released', id);
    expect(released.map((e) => [e.actor, e.details.claimant, e.details.notify])).toEqual([
      ['dave', 'dave', undefined],
      ['dave', 'erin', ['erin']],
    ]);
    expect((await row(id)).claimed_by).toBeNull();
  });

  it('gives a session to exactly one of two watchers claiming it at once', async () => {
    const id = await queued();
    const answers = await Promise.all([
      h.as('erin').post(`/v1/session-reviews/${id}/claim`),
      h.as('dave').post(`/v1/session-reviews/${id}/claim`),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const winner = answers.find((a) => a.status === 200)?.body.claimedBy;
    expect((await row(id)).claimed_by).toBe(winner);
    expect(await events('session_review.claimed', id)).toHaveLength(1);
  });

  it('writes due-soon and overdue reminders once each, across servers, routed to security and the claimant', async () => {
    const t0 = Date.now();
    const fresh = await queued({ createdAt: t0, dueAt: t0 + 7 * DAY });
    const soon = await queued({ createdAt: t0 - 7 * DAY, dueAt: t0 + 12 * 60 * 60 * 1000 });
    const late = await queued({ createdAt: t0 - 8 * DAY, dueAt: t0 - 60 * 60 * 1000 });
    await h.as('erin').post(`/v1/session-reviews/${late}/claim`);
    const at = (ms: number) =>
      createReviewReminders({ db: db(), audit: h.stint.audit.writer, clock: () => new Date(ms) });
    const signal = new AbortController().signal;

    await at(t0).sweep(signal);
    // Two servers sweeping at once, and again later: nothing twice.
    await Promise.all([at(t0 + 1000).sweep(signal), at(t0 + 1000).sweep(signal)]);
    expect(await events('session_review.due_soon', soon)).toHaveLength(1);
    expect(await events('session_review.overdue', late)).toHaveLength(1);
    // Already overdue when first seen: only the overdue one.
    expect(await events('session_review.due_soon', late)).toHaveLength(0);
    expect(await events('session_review.due_soon', fresh)).toHaveLength(0);

    await Promise.all([
      at(t0 + 7 * DAY - DUE_SOON_MS + 1000).sweep(signal),
      at(t0 + 7 * DAY - DUE_SOON_MS + 1000).sweep(signal),
    ]);
    expect(await events('session_review.due_soon', fresh)).toHaveLength(1);
    await at(t0 + 8 * DAY).sweep(signal);
    expect(await events('session_review.overdue', fresh)).toHaveLength(1);
    expect(await events('session_review.overdue', soon)).toHaveLength(1);

    const [overdue] = await events('session_review.overdue', late);
    expect(overdue?.details).toMatchObject({ sessionId: late, claimant: 'erin', notify: ['erin'] });
    const users = h.stint.deps.policy.current().users;
    const audiences = audiencesOf(overdue as CommittedEvent, { request: null, users });
    expect(audiences.security?.sort()).toEqual(['dave', 'sam']);
    expect(audiences.user).toEqual(['erin']);
    const queue = await h.as('erin').get('/v1/session-reviews');
    expect(queue.body.reviews.find((r: { sessionId: string }) => r.sessionId === late)?.overdue).toBe(true);
    expect(h.stint.recording.module.sweeps?.map((s) => s.name)).toContain('recording.review_reminders');
  });

  it('claims and releases from the CLI', async () => {
    const id = await queued();
    const url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const cli = async (user: string, args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(['--url', url, '--token', h.tokens[user] as string, 'recordings', ...args], {
        stdout: { write: (t: string) => (stdout += t) },
        stderr: { write: (t: string) => (stderr += t) },
        env: {},
      });
      return { code, stdout, stderr };
    };
    const claimed = await cli('erin', ['claim', id]);
    expect([claimed.code, claimed.stderr]).toEqual([0, '']);
    expect(claimed.stdout).toContain(`${id}: claimed by erin`);
    expect((await cli('erin', ['list'])).stdout).toMatch(new RegExp(`${id}.*erin`));
    const taken = await cli('dave', ['claim', id]);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain('SESSION_REVIEW_CLAIMED');
    const back = await cli('erin', ['release', id]);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain(`${id}: back in the queue`);
  });
});
