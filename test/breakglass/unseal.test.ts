import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bgDb } from '../../src/breakglass/breakglass-tables.js';
import { encodeShare, parseShare } from '../../src/breakglass/seal-crypto.js';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { BREAKGLASS_POLICY, eventsOf } from './support.js';

const SECRET = 'postgres://emergency:correct-horse@db.internal/app';

/**
 * A seal made with the CLI (`stint breakglass seal`) against a running server, 2 of sam, dave and carol; then
 * unsealed online through the API, as officers would: against the attempt's nonce, one attempt at a time.
 */
describe.each(STORE_KINDS)('sealed break-glass secret, unsealed online (%s store)', (kind) => {
  let h: Harness;
  let dir: string;
  let url: string;
  const share: Record<string, string> = {};
  beforeAll(async () => {
    h = await createHarness(kind, { policy: BREAKGLASS_POLICY });
    url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    dir = mkdtempSync(join(tmpdir(), 'stint-bg-unseal-'));
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (user: string, argv: string[]) =>
    run(argv, { env: { STINT_URL: url, STINT_TOKEN: h.tokens[user] } });
  const sealRow = async () =>
    bgDb(h.testStore.store)
      .selectFrom('breakglass_seals')
      .selectAll()
      .where('live_scope', '=', 'prod-db')
      .executeTakeFirstOrThrow();

  it('`stint breakglass seal` seals 2-of-3 and hands out each officer’s share once; the server never sees one', async () => {
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
    const sealArgs = (by: string) =>
      cli(by, [
        'breakglass',
        'seal',
        '--scope',
        'prod-db',
        '--label',
        'prod-db superuser',
        '--threshold',
        '2',
        '--officers',
        'sam,dave,carol',
        '--secret-file',
        join(dir, 'secret'),
        '--bundle',
        join(dir, `bundle-${by}.json`),
        '--out-dir',
        join(dir, `shares-${by}`),
      ]);
    // Only security or an admin seals.
    const refused = await sealArgs('alice');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/FORBIDDEN/);
    const r = await sealArgs('sam');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sealed seal_[0-9a-f]{16} for prod-db: 2 of 3 officers open it/);
    for (const officer of ['sam', 'dave', 'carol']) {
      share[officer] = readFileSync(join(dir, 'shares-sam', `share-${officer}.txt`), 'utf8').trim();
      expect(parseShare(share[officer] as string).officer).toBe(officer);
    }
    const row = await sealRow();
    expect(row).toMatchObject({ threshold: 2, state: 'active', created_by: 'sam' });
    // What the server holds: no share, no secret.
    const stored = JSON.stringify(row);
    for (const s of Object.values(share)) expect(stored).not.toContain(s.split(':')[3]);
    expect(stored).not.toContain('correct-horse');
    // Who holds shares is for those with a part in the seal: officers, whoever may break glass there, staff.
    const seen = async (user: string) => (await h.as(user).get('/v1/breakglass/seals')).body.seals.length;
    expect(await seen('carol')).toBe(1);
    expect(await seen('alice')).toBe(1);
    expect(await seen('erin')).toBe(1);
    expect(await seen('mallory')).toBe(0);
    const [sealed] = await eventsOf(h, 'breakglass.sealed');
    expect(sealed.details).toMatchObject({
      scope: 'prod-db',
      threshold: 2,
      officers: ['sam', 'dave', 'carol'],
      officersChanged: true,
    });
  });

  it('opens with 2 of 3 shares against the nonce; progress is visible; the opener takes the secret once', async () => {
    const opened = await h
      .as('alice')
      .post('/v1/breakglass/unseal', { scope: 'prod-db', reason: 'IdP down, INC-77' });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    const id: string = opened.body.id;
    expect(opened.body).toMatchObject({
      state: 'open',
      threshold: 2,
      officers: ['sam', 'dave', 'carol'],
      given: [],
    });
    // One attempt at a time.
    const second = await h.as('sam').post('/v1/breakglass/unseal', { scope: 'prod-db', reason: 'me too' });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'UNSEAL_BUSY', details: { unsealId: id } });

    const first = await h.as('sam').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.sam });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ given: ['sam'], remaining: 1, state: 'open' });
    const progress = await h.as('carol').get('/v1/breakglass/unseal');
    expect(progress.body.attempts).toEqual([expect.objectContaining({ id, given: ['sam'], remaining: 1 })]);

    const done = await h.as('dave').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.dave });
    expect(done.body).toMatchObject({ state: 'done', given: ['sam', 'dave'], secretReady: true });
    // Only the opener takes it, once.
    expect((await h.as('sam').post(`/v1/breakglass/unseal/${id}/secret`)).status).toBe(404);
    const taken = await h.as('alice').post(`/v1/breakglass/unseal/${id}/secret`);
    expect(taken.status).toBe(200);
    expect(taken.body.secret).toBe(SECRET);
    expect((await h.as('alice').post(`/v1/breakglass/unseal/${id}/secret`)).status).toBe(409);

    // The seal must be rotated now; a postmortem is open; every step is in the trail.
    expect((await sealRow()).state).toBe('rotation_required');
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json().degraded).toEqual([expect.objectContaining({ check: 'breakglass.rotation' })]);
    const [unsealed] = (await eventsOf(h, 'breakglass.unsealed')).filter((e) => e.details.unsealId === id);
    expect(unsealed.details).toMatchObject({
      officers: ['sam', 'dave'],
      revealed: true,
      alert: true,
      notify: ['security'],
    });
    const pms = await h.as('sam').get('/v1/breakglass/postmortems');
    const pm = pms.body.postmortems.find((p: { subject: string }) => p.subject === 'unseal');
    expect(pm).toMatchObject({ owner: 'sam', resource: 'prod-db', state: 'open' });
    const full = await h.as('sam').get(`/v1/breakglass/postmortems/${pm.id}`);
    expect(full.body.timeline.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining([
        'breakglass.unseal_opened',
        'breakglass.share_given',
        'breakglass.unsealed',
        'breakglass.rotation_required',
        'postmortem.opened',
        'breakglass.secret_shown',
      ]),
    );
    // It cannot close before the secret is re-sealed.
    await h
      .as('sam')
      .post(`/v1/breakglass/postmortems/${pm.id}`, { classification: 'emergency', rootCause: 'IdP outage' });
    const early = await h.as('sam').post(`/v1/breakglass/postmortems/${pm.id}/close`);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('ROTATION_REQUIRED');
  });

  it('a bad share is caught and reported by whose it is, never which bytes; one person never gives two shares', async () => {
    // Re-sealing (the rotation) starts a fresh seal with fresh shares.
    const r = await cli('dave', [
      'breakglass',
      'seal',
      '--scope',
      'prod-db',
      '--label',
      'prod-db superuser (rotated)',
      '--threshold',
      '2',
      '--officers',
      'sam,dave,carol',
      '--secret-file',
      join(dir, 'secret'),
      '--bundle',
      join(dir, 'bundle2.json'),
      '--out-dir',
      join(dir, 'shares2'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    for (const officer of ['sam', 'dave', 'carol']) {
      share[officer] = readFileSync(join(dir, 'shares2', `share-${officer}.txt`), 'utf8').trim();
    }
    const [resealed] = (await eventsOf(h, 'breakglass.sealed')).slice(-1);
    expect(resealed.details).toMatchObject({ rotated: true, officersChanged: false });
    const id = (await h.as('alice').post('/v1/breakglass/unseal', { scope: 'prod-db', reason: 'INC-78' }))
      .body.id;

    // sam gives dave's share: refused, naming dave.
    const stolen = await h.as('sam').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.dave });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toMatchObject({ code: 'SHARE_INVALID' });
    expect(stolen.body.error.message).toMatch(/issued to dave/);
    // sam's own share with one byte changed (and a checksum that fits): refused without saying which byte.
    const mine = parseShare(share.sam as string);
    const altered = new Uint8Array(mine.bytes);
    altered[3] = (altered[3] as number) ^ 0x40;
    const forged = encodeShare(mine.sealId, 'sam', altered);
    const bad = await h.as('sam').post(`/v1/breakglass/unseal/${id}/shares`, { share: forged });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/not the one issued to them/);
    expect(JSON.stringify(bad.body)).not.toContain(forged.split(':')[3]);
    // Someone who holds no share.
    expect(
      (await h.as('bob').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.carol })).status,
    ).toBe(404);
    // sam gives their own share, then tries again: one person, one share.
    expect((await h.as('sam').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.sam })).status).toBe(
      200,
    );
    const twice = await h.as('sam').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.sam });
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('SHARE_ALREADY_GIVEN');
    const progress = (await h.as('sam').get('/v1/breakglass/unseal')).body.attempts.find(
      (a: { id: string }) => a.id === id,
    );
    expect(progress).toMatchObject({ given: ['sam'], badShares: 2, state: 'open' });
    const refused = (await eventsOf(h, 'breakglass.share_refused')).filter((e) => e.details.unsealId === id);
    expect(refused.map((e) => e.details.why)).toEqual([
      'does not match the share issued',
      'does not match the share issued',
      'gave a share twice',
    ]);
    expect(refused.every((e) => e.result === 'failure')).toBe(true);
    // A third wrong share (carol's, mistyped) fails the attempt: a new one must be opened.
    const typo = await h
      .as('carol')
      .post(`/v1/breakglass/unseal/${id}/shares`, { share: 'stint-share-v1:nope' });
    expect(typo.body.error.code).toBe('SHARE_INVALID');
    const failed = (await h.as('sam').get('/v1/breakglass/unseal')).body.attempts.find(
      (a: { id: string }) => a.id === id,
    );
    expect(failed.state).toBe('failed');
    expect((await eventsOf(h, 'breakglass.unseal_failed')).some((e) => e.details.unsealId === id)).toBe(true);
  });

  it('a combination that does not open the seal fails AES-GCM’s tag check and reveals nothing', async () => {
    // The stored ciphertext altered behind Stint's back: every share still matches, the key cannot open it.
    const row = await sealRow();
    const [v, iv, tag, body] = row.sealed.split('.') as [string, string, string, string];
    const flipped = `${body.slice(0, -2)}${body.endsWith('AA') ? 'BB' : 'AA'}`;
    await bgDb(h.testStore.store)
      .updateTable('breakglass_seals')
      .set({ sealed: [v, iv, tag, flipped].join('.') })
      .where('id', '=', row.id)
      .execute();
    try {
      const id = (await h.as('alice').post('/v1/breakglass/unseal', { scope: 'prod-db', reason: 'INC-79' }))
        .body.id;
      expect(
        (await h.as('carol').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.carol })).status,
      ).toBe(200);
      const res = await h.as('dave').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.dave });
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'UNSEAL_FAILED' });
      expect(res.body.error.message).toMatch(/authentication tag/);
      const attempt = await bgDb(h.testStore.store)
        .selectFrom('breakglass_unseals')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(attempt).toMatchObject({ state: 'failed', shares_enc: null, secret_enc: null, open_seal: null });
    } finally {
      await bgDb(h.testStore.store)
        .updateTable('breakglass_seals')
        .set({ sealed: row.sealed })
        .where('id', '=', row.id)
        .execute();
    }
  });

  it('a drill unseal proves the shares open the seal without revealing the secret or needing rotation', async () => {
    const id = (
      await h
        .as('sam')
        .post('/v1/breakglass/unseal', { scope: 'prod-db', reason: 'annual drill', drill: true })
    ).body.id;
    await h.as('carol').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.carol });
    const done = await h.as('sam').post(`/v1/breakglass/unseal/${id}/shares`, { share: share.sam });
    expect(done.body).toMatchObject({ state: 'done', purpose: 'drill', secretReady: false });
    expect((await h.as('sam').post(`/v1/breakglass/unseal/${id}/secret`)).status).toBe(409);
    expect((await sealRow()).state).toBe('active');
  });

  it('two attempts opened at once: one opens, the other is told; an attempt left open lapses and frees the seal', async () => {
    const [a, b] = await Promise.all([
      h.as('alice').post('/v1/breakglass/unseal', { scope: 'prod-db', reason: 'race a' }),
      h.as('sam').post('/v1/breakglass/unseal', { scope: 'prod-db', reason: 'race b' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    const open = a.status === 201 ? a.body : b.body;
    // Its time is up (15 minutes) without enough shares: the next opening ends it first.
    await bgDb(h.testStore.store)
      .updateTable('breakglass_unseals')
      .set({ expires_at: Date.now() - 1 })
      .where('id', '=', open.id)
      .execute();
    const next = await h
      .as('alice')
      .post('/v1/breakglass/unseal', { scope: 'prod-db', reason: 'after the lapse' });
    expect(next.status, JSON.stringify(next.body)).toBe(201);
    expect((await eventsOf(h, 'breakglass.unseal_expired')).map((e) => e.details.unsealId)).toContain(
      open.id,
    );
  });
});
