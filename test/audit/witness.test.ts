import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createStint, type Stint } from '../../src/app/stint.js';
import { cosignedBy, parseWitnessVkey } from '../../src/audit/witness/cosignature.js';
import { addCheckpoint } from '../../src/audit/witness/witness-client.js';
import { silentLogger } from '../../src/logger.js';
import { createProvider } from '../../src/providers/registry.js';
import { buildHttpApp } from '../../src/server/http-app.js';
import type { StintDatabase } from '../../src/store/database.js';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { startTestWitness, type TestWitness } from '../support/witness.js';

/**
 * External witnesses (C2SP tlog-witness): every new checkpoint goes to them with a consistency proof, their
 * cosignatures are kept beside it, and verifiers can require k of them. A witness keeps its own state, so a
 * log rolled back and regrown cannot get its forked checkpoints cosigned.
 */
describe.each(STORE_KINDS)('audit witnesses on %s', (kind) => {
  let h: Harness;
  let w: TestWitness;
  // A second server on the same store (the compromised host of the fork test), closed before the harness.
  let host: { stint: Stint; app: FastifyInstance } | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'stint-witness-'));
  afterEach(async () => {
    await host?.app.close();
    await host?.stint.stop();
    host = undefined;
    await h?.close();
    await w?.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function setup(): Promise<{ store: StintDatabase; url: string }> {
    w = await startTestWitness({ name: 'witness.test/w1' });
    h = await createHarness(kind, {
      stepUp: false,
      start: false,
      auditWitnesses: [{ verifier: parseWitnessVkey(w.vkey), url: w.url }],
    });
    w.trust(h.auditSigner.name, [h.auditSigner.verifier]);
    await events(['INC-1', 'INC-2', 'INC-3']);
    const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    return { store: h.testStore.store, url };
  }

  async function events(reasons: string[]): Promise<void> {
    for (const reason of reasons) {
      const r = await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason });
      await h.as('carol').post(`/v1/requests/${r.body.id}/deny`, { comment: 'not now' });
    }
  }

  /** Builds a checkpoint and submits it, as the server's periodic builder does. */
  async function checkpoint(stint: Stint = h.stint) {
    const cp = await stint.audit.log.build({ checkpoint: true });
    if (!cp) throw new Error('no checkpoint');
    return { cp, outcomes: await stint.audit.witnesses.submit(cp) };
  }

  /**
   * The whole host compromised: a server on the same store whose WORM folder is gone (or whoever holds the
   * signing key), so nothing of its own remembers the checkpoints signed before. Only the witness does.
   */
  async function compromisedHost(): Promise<string> {
    const stint = createStint({
      store: h.testStore.store,
      storeId: h.storeId,
      policy: h.stint.deps.policy,
      providerFactory: (r, owner) => createProvider(r, h.env, { owner }),
      secrets: h.stint.deps.secrets,
      logger: silentLogger,
      audit: {
        signers: [h.auditSigner],
        checkpointDir: mkdtempSync(join(dir, 'worm-')),
        checkpointIntervalMs: 200,
        witnesses: [{ verifier: parseWitnessVkey(w.vkey), url: w.url }],
      },
    });
    const app = await buildHttpApp(stint);
    host = { stint, app };
    return app.listen({ port: 0, host: '127.0.0.1' });
  }

  /** The audit tables restored as they were at 6 events (a backup), cosignatures included. */
  async function rollBackTo6(store: StintDatabase): Promise<void> {
    await sql
      .raw(
        kind === 'sqlite'
          ? 'DROP TRIGGER audit_events_no_delete'
          : 'ALTER TABLE audit_events DISABLE TRIGGER USER',
      )
      .execute(store.db);
    if (kind === 'sqlite') await sql`DROP TRIGGER audit_checkpoints_no_delete`.execute(store.db);
    else await sql`ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`.execute(store.db);
    if (kind === 'sqlite') await sql`DROP TRIGGER audit_nodes_no_delete`.execute(store.db);
    else await sql`ALTER TABLE audit_nodes DISABLE TRIGGER USER`.execute(store.db);
    await sql`DELETE FROM audit_events WHERE seq >= 6`.execute(store.db);
    await sql`DELETE FROM audit_checkpoints WHERE size > 6`.execute(store.db);
    await sql`DELETE FROM audit_cosignatures WHERE size > 6`.execute(store.db);
    await sql`DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > 6`.execute(store.db);
    await sql`UPDATE audit_head SET size = 6`.execute(store.db);
    await sql`UPDATE audit_tree SET built = 6`.execute(store.db);
  }

  /** Lets the test move a stored checkpoint's time, as a store writer can. */
  async function setCreatedAt(store: StintDatabase, size: number, at: number): Promise<void> {
    if (kind === 'sqlite') await sql`DROP TRIGGER IF EXISTS audit_checkpoints_no_update`.execute(store.db);
    else await sql`ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`.execute(store.db);
    await sql`UPDATE audit_checkpoints SET created_at = ${at} WHERE size = ${size}`.execute(store.db);
  }

  const verifyCli = (
    url: string,
    extra: string[],
    now = new Date(),
    state = join(dir, `${Math.random()}.json`),
  ) =>
    run(
      [
        '--url',
        url,
        '--token',
        h.tokens.erin ?? '',
        'audit',
        'verify',
        '--key',
        h.auditSigner.vkey,
        '--state',
        state,
        '--witness',
        w.vkey,
        ...extra,
      ],
      { now: () => now },
    );

  it('each checkpoint is cosigned with a consistency proof, served beside it, and verify requires it', async () => {
    const { url } = await setup();
    const first = await checkpoint();
    expect(first.cp.size).toBe(6);
    expect(first.outcomes.get(w.name)).toMatchObject({ ok: true });
    await events(['INC-4']);
    const second = await checkpoint();
    expect(second.cp.size).toBe(8);
    expect(second.outcomes.get(w.name)).toMatchObject({ ok: true });
    expect(w.latest(h.auditSigner.name)?.size).toBe(8);

    const served = (await h.app.inject({ method: 'GET', url: '/audit/checkpoint' })).body;
    expect(cosignedBy(served, [parseWitnessVkey(w.vkey)])).toEqual([w.name]);
    const ok = await verifyCli(url, ['--min-witnesses', '1']);
    expect(ok.stdout).toMatch(/^verified 8 events up to checkpoint 8/);
    expect(ok.code).toBe(0);
  });

  it('a rolled-back and regrown log: the witness refuses, and verify with the witness fails', async () => {
    const { store } = await setup();
    await checkpoint();
    await events(['INC-4']);
    const witnessed = await checkpoint();
    expect(witnessed.cp.size).toBe(8);
    // (The server that signed 8 remembers it and refuses to sign a fork: trail-anchor.test.ts. Here the host
    // forgot, so the witness is the one who remembers.)
    // The DBA restores the audit tables as they were at 6 events, cosignatures included, and the log regrows.
    await rollBackTo6(store);
    await events(['INC-9', 'INC-10']);
    const url = await compromisedHost();
    if (!host) throw new Error('no second server');
    const forked = await checkpoint(host.stint);
    expect(forked.cp.size).toBe(10);
    const refusal = forked.outcomes.get(w.name);
    expect(refusal?.ok).toBe(false);
    expect(w.statuses.at(-1)).toBe(422);
    expect(w.latest(h.auditSigner.name)?.size).toBe(8);

    // Without witnesses the forked trail verifies: only its own key vouches for it.
    const blind = await run(
      [
        '--url',
        url,
        '--token',
        h.tokens.erin ?? '',
        'audit',
        'verify',
        '--key',
        h.auditSigner.vkey,
        '--state',
        join(dir, 'blind.json'),
      ],
      { now: () => new Date() },
    );
    expect(blind.code).toBe(0);
    // With the witness, once the refused checkpoint is past the grace a cosignature takes: UNWITNESSED.
    const later = new Date(Date.now() + 120_000);
    const failed = await verifyCli(url, ['--min-witnesses', '1'], later);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^FAILED: UNWITNESSED/);
    // And the checkpoint the witness cosigned shows the fork to anyone holding it.
    const held = join(dir, `held-${kind}.txt`);
    writeFileSync(held, w.latest(h.auditSigner.name)?.note ?? '');
    const fork = await verifyCli(url, ['--checkpoint', held]);
    expect(fork.code).toBe(1);
    expect(fork.stdout).toMatch(/^FAILED: (FORK|ROOT_MISMATCH)/);
  });

  it('a witness refusal (422) fails verify at once with the refusal named, for a verifier that knew the witness', async () => {
    const { store, url: honest } = await setup();
    await checkpoint();
    const state = join(dir, `known-${kind}.json`);
    const first = await verifyCli(honest, [], new Date(), state);
    expect(first.stdout).toMatch(/^verified 6 events/);
    await events(['INC-4']);
    expect((await checkpoint()).cp.size).toBe(8);
    await rollBackTo6(store);
    await events(['INC-9', 'INC-10']);
    const url = await compromisedHost();
    if (!host) throw new Error('no second server');
    expect((await checkpoint(host.stint)).outcomes.get(w.name)).toMatchObject({ ok: false, status: 422 });
    // No grace for a refusal: the same second, the verifier fails, naming the witness and its answer.
    const refused = await verifyCli(url, [], new Date(), state);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /^FAILED: UNWITNESSED.*witness witness\.test\/w1 refused checkpoint 10 \(HTTP 422\): the log was rolled back or forked/,
    );
  });

  it("the grace runs on the verifier's clock from when it first saw a checkpoint, not on the store's createdAt", async () => {
    const { store, url } = await setup();
    await checkpoint();
    const state = join(dir, `grace-${kind}.json`);
    const t0 = new Date();
    expect((await verifyCli(url, [], t0, state)).code).toBe(0);
    // The witness goes quiet (unreachable: no refusal to report), and a store writer dates the next checkpoint
    // a day ahead, as if it had just been made.
    await w.close();
    await events(['INC-4']);
    const { cp } = await checkpoint();
    expect(cp.size).toBe(8);
    await setCreatedAt(store, 8, Date.now() + 86_400_000);

    const seen = await verifyCli(url, [], t0, state);
    expect(seen.code).toBe(0);
    expect(seen.stderr).toMatch(/events 6\.\.7 are signed by the log but not yet cosigned/);
    const later = await verifyCli(url, [], new Date(t0.getTime() + 120_000), state);
    expect(later.code).toBe(1);
    expect(later.stdout).toMatch(/^FAILED: UNWITNESSED.*checkpoint of size 8/);
  });

  it('a witness new to the verifier is trusted on first use: its cosignature must cover the current tree', async () => {
    const { url } = await setup();
    await checkpoint();
    await w.close();
    await events(['INC-4']);
    expect((await checkpoint()).cp.size).toBe(8);
    // A verifier that never saw this witness gives no grace: 6 is cosigned, 8 is the current tree.
    const state = join(dir, `tofu-${kind}.json`);
    const fresh = await verifyCli(url, [], new Date(), state);
    expect(fresh.code).toBe(1);
    expect(fresh.stdout).toMatch(
      /^FAILED: UNWITNESSED.*trust on first use: witness witness\.test\/w1 is new to this verifier.*checkpoint 8.*only up to 6/,
    );
    // Its state kept no trust in the witness: the next run is still a first use.
    expect((await verifyCli(url, [], new Date(), state)).code).toBe(1);
  });

  it('a witness that has seen a larger tree answers 409 with its size: the submitter reports the conflict', async () => {
    await setup();
    await checkpoint();
    await events(['INC-4']);
    await checkpoint();
    // A second server on a rolled-back copy would offer size 6 again: the witness is at 8.
    const stale = await h.stint.audit.log.checkpointAt(6);
    expect(stale).not.toBeNull();
    const outcome = await addCheckpoint(
      { verifier: parseWitnessVkey(w.vkey), url: w.url },
      0,
      [],
      stale?.note ?? '',
    );
    expect(outcome).toEqual({ ok: false, conflict: 8 });
  });
});
