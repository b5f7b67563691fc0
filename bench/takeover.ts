import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateNoteKey } from '../src/audit/log/signed-note.js';
import { createTokenStore } from '../src/auth/token-store.js';
import { migrate, openDatabase } from '../src/store/database.js';
import { type ServerProcess, startServerProcess } from '../test/support/server-process.js';
import { createTestStore } from '../test/support/stores.js';
import { benchPolicy, REQUESTER, RESOURCE } from './policy.js';
import { round, type Summary, sleep, summarize } from './stats.js';

export interface Takeover {
  /** Tries where the first server was stopped mid-issuance (the others had already finished and are not counted). */
  taken: number;
  tries: number;
  /** kill -9 of the server issuing → the request active, issued by the other server (PostgreSQL store). */
  resumed: Summary;
}

/**
 * A dead node's claimed issuance: two `stint server` processes on one PostgreSQL store; a request is approved on
 * the first, which is frozen (SIGSTOP) the moment its answer arrives, while its issuance runs, then killed
 * (SIGKILL); the figure is how long until the survivor has issued it. Issuance claims are short and renewed
 * while issuing (src/grants/claim.ts), so this is about the claim (3 s) plus a sweep.
 */
export async function measureTakeover(targetEnv: Record<string, string>, tries: number): Promise<Takeover> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-takeover-'));
  const store = await createTestStore('postgresql');
  const policyPath = join(dir, 'stint.yaml');
  writeFileSync(policyPath, benchPolicy());
  const env = {
    ...targetEnv,
    STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-bench').skey,
    STINT_LOG_LEVEL: 'error',
    STINT_SWEEP_INTERVAL_MS: '200',
    // Servers of one deployment share the checkpoint folder (HA), as they share the store.
    STINT_AUDIT_CHECKPOINT_DIR: join(dir, 'checkpoints'),
  };
  const db = openDatabase(store.url);
  await migrate(db);
  const token = (await createTokenStore(db.db).create(REQUESTER, 'bench', new Date())).token;
  await db.close();
  const start = (n: number) =>
    startServerProcess(
      ['--policy', policyPath, '--db', store.url, '--port', '0', '--data-dir', join(dir, `s${n}`)],
      env,
    );
  const call = async (server: ServerProcess, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return (await res.json()) as { id: string; state: string };
  };

  const survivor = await start(0);
  const resumed: number[] = [];
  try {
    for (let i = 0; i < tries; i++) {
      const doomed = await start(i + 1);
      const made = await call(doomed, 'POST', '/v1/requests', {
        resource: RESOURCE,
        role: 'read',
        reason: `takeover ${i}`,
        duration: '1h',
      });
      doomed.child.kill('SIGSTOP');
      if ((await call(survivor, 'GET', `/v1/requests/${made.id}`)).state !== 'approved') {
        await doomed.kill9();
        continue;
      }
      await doomed.kill9();
      const t0 = performance.now();
      for (;;) {
        const { state } = await call(survivor, 'GET', `/v1/requests/${made.id}`);
        if (state === 'active') break;
        if (state !== 'approved') throw new Error(`takeover ended ${state}`);
        if (performance.now() - t0 > 60_000) throw new Error('not taken over within 60 s');
        await sleep(20);
      }
      resumed.push(performance.now() - t0);
    }
  } finally {
    await survivor.kill9();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { taken: resumed.length, tries, resumed: summarize(resumed.map((v) => round(v, 0))) };
}
