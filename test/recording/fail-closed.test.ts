import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { waitFor } from '../support/pg-client.js';
import { type ProxyFixture, startFixture, until, userClient } from './fixture.js';

/**
 * When a recording cannot be written, the policy decides: the session ends (the default, fail closed) or goes on
 * unrecorded and audited. Tests run as root here, whom no mode bit stops, so "cannot be written" is made the way
 * root meets it: a file where the recordings' folder (or a recording's own folder) should be.
 */
let f: ProxyFixture;
let root: string;
beforeAll(async () => {
  f = await startFixture({ storage: 'local' });
  root = join(f.dir, 'recordings');
});
afterAll(async () => {
  await f?.close();
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true, mode: 0o700 });
});

const breakFolder = (path: string) => {
  rmSync(path, { recursive: true, force: true });
  writeFileSync(path, 'not a folder');
};

async function sessionOf(requestId: string) {
  return waitFor(async () => {
    const [s] = await recordingStore.listSessions(recordingDb(f.h.stint.deps.store.db), {
      requestId,
      limit: 1,
    });
    return s?.ended_at ? s : null;
  });
}

describe('fail closed', () => {
  it('refuses to run anything when the recording cannot be started, and ends the session', async () => {
    const g = await f.grant();
    breakFolder(root);
    const marker = join(f.dir, `ran-${Date.now()}`);
    const r = await f.ssh(g.login, ['touch', marker]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('the session cannot be recorded');
    expect(existsSync(marker)).toBe(false);
    const session = await sessionOf(g.requestId);
    expect(session.end_reason).toMatch(
      /^recording cannot be written \(cannot write recording rec_\S+: ENOTDIR\)$/,
    );
    const failed = (await f.events(g.requestId)).find((e) => e.action === 'recording.failed');
    expect(failed?.details).toMatchObject({ continued: false });
  });

  it('ends a running session when its recording stops being writable', async () => {
    const g = await f.grant();
    const client = await userClient(g.login);
    const shell = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.shell({ rows: 24, cols: 80, term: 'xterm' }, (err, s) => (err ? reject(err) : resolve(s))),
    );
    shell.write('echo first\n');
    await until(shell, /first/);
    const [session] = await recordingStore.listSessions(recordingDb(f.h.stint.deps.store.db), {
      requestId: g.requestId,
      limit: 1,
    });
    const [recording] = await recordingStore.recordingsOf(
      recordingDb(f.h.stint.deps.store.db),
      session?.id ?? '',
    );
    breakFolder(join(root, recording?.id ?? ''));
    const told = until(shell.stderr, /session ended: recording cannot be written/);
    shell.write('echo second\n');
    await told;
    await new Promise<void>((r) => client.once('close', () => r()));
    const ended = await sessionOf(g.requestId);
    expect(ended.end_reason).toMatch(/^recording cannot be written/);
    expect(
      (await recordingStore.getRecording(recordingDb(f.h.stint.deps.store.db), recording?.id ?? ''))?.state,
    ).toBe('failed');
  });

  it('goes on unrecorded where the policy says continue, and audits that it did', async () => {
    const g = await f.grant({ resource: 'lenient' });
    breakFolder(root);
    const r = await f.ssh(g.login, ['echo', 'unrecorded-but-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('unrecorded-but-run');
    await sessionOf(g.requestId);
    const failed = (await f.events(g.requestId)).find((e) => e.action === 'recording.failed');
    expect(failed?.details).toMatchObject({ continued: true });
    const channel = (await f.events(g.requestId)).find((e) => e.action === 'session.channel');
    expect(channel?.details.recordingId).toBeNull();
  });
});
