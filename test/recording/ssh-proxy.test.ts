import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCaKey } from '../../src/providers/ssh/ca-key.js';
import { signCertificate } from '../../src/providers/ssh/certificate.js';
import { parseAsciicast } from '../../src/recording/asciicast.js';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { readCertificateBlob } from '../../src/recording/ssh-proxy/certificate-blob.js';
import { waitFor } from '../support/pg-client.js';
import { run, sshArgs } from '../support/sshd.js';
import { type ProxyFixture, spawnSsh, startFixture, until, userClient } from './fixture.js';

let f: ProxyFixture;
beforeAll(async () => {
  f = await startFixture({ storage: 'local', segmentBytes: 16_384 });
});
afterAll(async () => {
  await f?.close();
});

const db = () => recordingDb(f.h.stint.deps.store.db);

/** The recordings of the request's sessions, once every session of it has ended. */
async function endedSessions(requestId: string) {
  return waitFor(async () => {
    const sessions = await recordingStore.listSessions(db(), { requestId, limit: 10 });
    return sessions.length > 0 && sessions.every((s) => s.ended_at !== null) ? sessions : null;
  });
}

function castOf(recordingId: string): string {
  const folder = join(f.dir, 'recordings', recordingId);
  return readdirSync(folder)
    .filter((n) => n.endsWith('.cast'))
    .sort()
    .map((n) => readFileSync(join(folder, n), 'utf8'))
    .join('');
}

describe('the SSH proxy', () => {
  it('logs in with a Stint certificate, runs a command on the host, and records it', async () => {
    const g = await f.grant();
    const r = await f.ssh(g.login, [
      'echo',
      'hello-from-$(hostname -s >/dev/null; echo host)',
      ';',
      'id',
      '-un',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hello-from-host');
    expect(r.stdout.trim().split('\n').at(-1)).toBe(f.sshd.account);

    const [session] = await endedSessions(g.requestId);
    expect(session?.end_reason).toBe('client disconnected');
    const [recording] = await recordingStore.recordingsOf(db(), session?.id as string);
    expect(recording?.type).toBe('exec');
    expect(recording?.state).toBe('complete');
    const cast = parseAsciicast(castOf(recording?.id as string));
    expect(cast.header.version).toBe(2);
    expect(cast.header.command).toContain('echo hello-from');
    const output = cast.events
      .filter((e) => e[1] === 'o')
      .map((e) => e[2])
      .join('');
    expect(output).toContain('hello-from-host');
    // Times only go forward.
    const times = cast.events.map((e) => e[0]);
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    // The host saw the proxy's own certificate for this grant (key id naming the request), not the user's.
    expect(f.sshd.log()).toContain(`ID stint:request=${g.requestId};`);
    const events = await f.events(g.requestId);
    const started = events.find((e) => e.action === 'session.started');
    const connected = events.find((e) => e.action === 'session.host_connected');
    expect(started?.details.sessionId).toBe(session?.id);
    expect(connected?.details.certificateSerial).not.toBe(started?.details.certificateSerial);
    expect(events.map((e) => e.action)).toContain('session.ended');
  });

  it('hashes each segment into the audit trail: the files are the ones recorded', async () => {
    const g = await f.grant();
    const r = await f.ssh(g.login, ['seq', '1', '20000']);
    expect(r.code).toBe(0);
    const [session] = await endedSessions(g.requestId);
    const [recording] = await recordingStore.recordingsOf(db(), session?.id as string);
    const id = recording?.id as string;
    const segments = await recordingStore.segmentsOf(db(), id);
    const trail = (await f.events(g.requestId)).filter(
      (e) => e.action === 'recording.segment' && e.details.recordingId === id,
    );
    expect(segments.length).toBeGreaterThan(2);
    expect(trail.length).toBe(segments.length);
    for (const segment of segments) {
      const file = join(f.dir, 'recordings', id, `${String(segment.idx).padStart(6, '0')}.cast`);
      const bytes = readFileSync(file);
      const event = trail.find((e) => e.details.segment === segment.idx);
      expect(event?.details.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(event?.details.bytes).toBe(bytes.length);
    }
    expect(trail.at(-1)?.details.final).toBe(true);
    const output = parseAsciicast(castOf(id))
      .events.map((e) => e[2])
      .join('');
    expect(output).toContain('\n19999\n20000');
  });
});

describe('terminals', () => {
  it('opens a shell with a pty, carries window changes to the host and records them', async () => {
    const g = await f.grant();
    const client = await userClient(g.login);
    const shell = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.shell({ rows: 24, cols: 80, term: 'xterm' }, (err, s) => (err ? reject(err) : resolve(s))),
    );
    shell.write('stty size; echo "term=$TERM"\n');
    await until(shell, /24 80[\s\S]*term=xterm/);
    shell.setWindow(40, 120, 0, 0);
    await new Promise((r) => setTimeout(r, 200));
    shell.write('stty size\n');
    await until(shell, /40 120/);
    shell.write('exit\n');
    await new Promise((r) => shell.once('close', r));
    client.end();

    const [session] = await endedSessions(g.requestId);
    const [recording] = await recordingStore.recordingsOf(db(), session?.id as string);
    expect(recording?.type).toBe('shell');
    const cast = parseAsciicast(castOf(recording?.id as string));
    expect(cast.header).toMatchObject({ width: 80, height: 24, env: { TERM: 'xterm' } });
    expect(cast.events.some((e) => e[1] === 'r' && e[2] === '120x40')).toBe(true);
    const output = cast.events
      .filter((e) => e[1] === 'o')
      .map((e) => e[2])
      .join('');
    expect(output).toContain('40 120');
    // asciinema itself reads it: `asciinema cat` replays the output events of the file as recorded (it wants a
    // terminal, which `script` gives it).
    const file = join(f.dir, `${recording?.id}.cast`);
    writeFileSync(file, castOf(recording?.id as string));
    const replayed = execFileSync('script', ['-qec', `asciinema cat ${file}`, '/dev/null'], {
      encoding: 'utf8',
    });
    expect(replayed).toContain('40 120');
    expect(replayed).toContain('term=xterm');
    // Input capture is off by default: nothing typed is stored, not even what the terminal echoed back.
    expect(cast.events.some((e) => e[1] === 'i')).toBe(false);
  });

  it('records typed input where the policy asks, except what was typed while the terminal did not echo', async () => {
    const g = await f.grant({ resource: 'typed' });
    const client = await userClient(g.login);
    const shell = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.shell({ rows: 24, cols: 80, term: 'xterm' }, (err, s) => (err ? reject(err) : resolve(s))),
    );
    shell.write('echo visible-$((6*7))\n');
    await until(shell, /visible-42/);
    // A prompt the secret-prompt pattern does not know: only the missing echo withholds what is typed.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, run on the host
    shell.write("printf 'Say it: '; stty -echo; read secret; stty echo; echo; echo len=${#secret}\n");
    await until(shell, /Say it: $/m);
    shell.write('hunter2-never-stored\n');
    await until(shell, /len=20/);
    shell.write('exit\n');
    await new Promise((r) => shell.once('close', r));
    client.end();

    const [session] = await endedSessions(g.requestId);
    const [recording] = await recordingStore.recordingsOf(db(), session?.id as string);
    const text = castOf(recording?.id as string);
    expect(text).not.toContain('hunter2');
    const cast = parseAsciicast(text);
    const typed = cast.events
      .filter((e) => e[1] === 'i')
      .map((e) => e[2])
      .join('');
    expect(typed).toContain('echo visible-$((6*7))');
    expect(cast.events.some((e) => e[1] === 'm' && e[2].startsWith('input withheld'))).toBe(true);
  });

  it('keeps back-pressure through the proxy: a large output reaches a slow reader whole, and is recorded', async () => {
    const g = await f.grant();
    const size = 8_000_000;
    const ssh = spawnSsh(g.login, ['yes', '0123456789abcdef', '|', 'head', '-c', String(size)]);
    const hash = createHash('sha256');
    let received = 0;
    // A reader that stops for a while, twice: ssh stops reading, its window closes, the proxy must stop too.
    ssh.child.stdout?.removeAllListeners('data');
    ssh.child.stdout?.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
    });
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 300));
      ssh.child.stdout?.pause();
      await new Promise((r) => setTimeout(r, 700));
      ssh.child.stdout?.resume();
    }
    const { code } = await ssh.exited;
    await new Promise((r) => setTimeout(r, 50));
    expect(code).toBe(0);
    expect(received).toBe(size);
    const expected = createHash('sha256')
      .update('0123456789abcdef\n'.repeat(Math.ceil(size / 17)).slice(0, size))
      .digest('hex');
    expect(hash.digest('hex')).toBe(expected);

    const [session] = await endedSessions(g.requestId);
    const [recording] = await recordingStore.recordingsOf(db(), session?.id as string);
    const recorded = parseAsciicast(castOf(recording?.id as string))
      .events.filter((e) => e[1] === 'o')
      .reduce((n, e) => n + e[2].length, 0);
    expect(recorded).toBe(size);
  });
});

describe('SFTP', () => {
  it('passes SFTP through and audits each file operation', async () => {
    const g = await f.grant();
    const local = join(f.dir, `sftp-up-${Date.now()}.txt`);
    const content = 'x'.repeat(100_000);
    writeFileSync(local, content);
    const remote = `/tmp/stint-sftp-${process.pid}-${Date.now()}`;
    const batch = join(f.dir, 'batch.txt');
    writeFileSync(
      batch,
      [
        `mkdir ${remote}`,
        `put ${local} ${remote}/up.txt`,
        `get ${remote}/up.txt ${local}.back`,
        `rename ${remote}/up.txt ${remote}/moved.txt`,
        `rm ${remote}/moved.txt`,
        `rmdir ${remote}`,
        '',
      ].join('\n'),
    );
    const args = sshArgs(g.login).map((a) => (a === '-p' ? '-P' : a));
    const r = await run('sftp', ['-b', batch, ...args], 30_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(`${local}.back`, 'utf8')).toBe(content);

    await endedSessions(g.requestId);
    const ops = (await f.events(g.requestId))
      .filter((e) => e.action === 'session.sftp')
      .map((e) => e.details)
      .filter((d) => String(d.path).startsWith(remote));
    const summary = ops.map((d) => `${d.op} ${String(d.path).slice(remote.length)} ${d.result}`);
    expect(summary).toEqual([
      'mkdir  ok',
      'open /up.txt ok',
      'close /up.txt ok',
      'open /up.txt ok',
      'close /up.txt ok',
      'rename /up.txt ok',
      'remove /moved.txt ok',
      'rmdir  ok',
    ]);
    expect(ops[1]?.mode).toEqual(expect.arrayContaining(['write', 'create']));
    expect(ops[2]).toMatchObject({ bytesWritten: content.length, bytesRead: 0 });
    expect(ops[3]?.mode).toEqual(['read']);
    expect(ops[4]).toMatchObject({ bytesRead: content.length, bytesWritten: 0 });
    expect(ops[5]?.to).toBe(`${remote}/moved.txt`);
  });

  it('closes the channel on a malformed SFTP packet, and the session and the proxy carry on', async () => {
    const g = await f.grant();
    const client = await userClient(g.login);
    const sftp = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.subsys('sftp', (err, s) => (err ? reject(err) : resolve(s))),
    );
    sftp.resume();
    const closed = new Promise((r) => sftp.once('close', r));
    sftp.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await closed;
    const out = await new Promise<string>((resolve, reject) =>
      client.exec('echo still-here', (err, s) => {
        if (err) return reject(err);
        let o = '';
        s.on('data', (d: Buffer) => {
          o += d;
        });
        s.on('close', () => resolve(o));
      }),
    );
    expect(out).toContain('still-here');
    client.end();
    await endedSessions(g.requestId);
    const closedEvent = (await f.events(g.requestId)).find((e) => e.action === 'session.channel_closed');
    expect(closedEvent?.details.reason).toMatch(/malformed SFTP from the client/);
  });
});

describe('port forwarding', () => {
  let echo: Server;
  let echoPort = 0;
  beforeAll(async () => {
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    echoPort = (echo.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => echo.close(() => r())));

  async function freePort(): Promise<number> {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }

  /** Sends a line through 127.0.0.1:port and answers what came back before the other end closed (or a timeout). */
  function roundTrip(port: number): Promise<string> {
    return new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      const timer = setTimeout(() => {
        s.destroy();
        resolve(got);
      }, 3_000);
      s.on('connect', () => s.write('ping\n'));
      s.on('data', (d) => {
        got += d.toString();
        if (got.includes('\n')) {
          clearTimeout(timer);
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        resolve(got);
      });
    });
  }

  async function localForward(
    resource: string,
    role: string,
  ): Promise<{ answer: string; requestId: string }> {
    const g = await f.grant({ resource, role });
    const port = await freePort();
    const ssh = spawnSsh(g.login, [], ['-N', '-L', `127.0.0.1:${port}:127.0.0.1:${echoPort}`]);
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = connect(port, '127.0.0.1');
          probe.on('connect', () => {
            probe.destroy();
            resolve(true);
          });
          probe.on('error', () => resolve(false));
        }),
    );
    const answer = await roundTrip(port);
    ssh.child.kill('SIGTERM');
    await ssh.exited;
    return { answer, requestId: g.requestId };
  }

  it('refuses local forwarding unless the resource allows it and the certificate permits it', async () => {
    // The role's certificate permits it, the resource does not.
    const refused = await localForward('bastion', 'tunnel');
    expect(refused.answer).toBe('');
    await endedSessions(refused.requestId);
    const event = (await f.events(refused.requestId)).find((e) => e.action === 'session.forward');
    expect(event?.details).toMatchObject({ kind: 'local', allowed: false, to: `127.0.0.1:${echoPort}` });
    // Neither does the plain role.
    expect((await localForward('bastion', 'ops')).answer).toBe('');
  });

  it('forwards a local port where both allow it, and audits it', async () => {
    const allowed = await localForward('tunnel-host', 'tunnel');
    expect(allowed.answer).toBe('ping\n');
    await endedSessions(allowed.requestId);
    const event = (await f.events(allowed.requestId)).find((e) => e.action === 'session.forward');
    expect(event?.details).toMatchObject({ kind: 'local', allowed: true });
  });

  it('remote forwarding: refused on bastion, carried on tunnel-host', async () => {
    const refused = await f.grant({ resource: 'bastion', role: 'tunnel' });
    const no = await f.ssh(
      refused.login,
      [],
      ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `0:127.0.0.1:${echoPort}`],
    );
    expect(no.code).toBe(255);
    expect(no.stderr).toMatch(/remote port forwarding failed/);

    const g = await f.grant({ resource: 'tunnel-host', role: 'tunnel' });
    const port = await freePort();
    const ssh = spawnSsh(
      g.login,
      [],
      ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${port}:127.0.0.1:${echoPort}`],
    );
    await waitFor(async () => (await roundTrip(port)) === 'ping\n');
    ssh.child.kill('SIGTERM');
    await ssh.exited;
    await endedSessions(g.requestId);
    const event = (await f.events(g.requestId)).find((e) => e.action === 'session.forward');
    expect(event?.details).toMatchObject({ kind: 'remote', allowed: true, port });
    const answer = 'ping\n';
    expect(answer).toBe('ping\n');
  });
});

describe('refusals', () => {
  it('refuses a plain key, a certificate of another CA, and a revoked grant’s certificate, before any host is reached', async () => {
    const g = await f.grant();
    // The same key without its certificate.
    const plain = await run(
      'ssh',
      sshArgs(g.login)
        .map((a) => (a.startsWith('CertificateFile=') ? 'CertificateFile=/dev/null' : a))
        .concat(['true']),
    );
    expect(plain.code).toBe(255);
    expect(plain.stderr).toMatch(/Permission denied/);

    // Another CA's certificate for the same key, key id and principals (what a forger with any CA could make).
    const forger = parseCaKey(f.sshd.hostCaKey);
    const real = readCertificateBlob(Buffer.from(g.login.certificate.split(' ')[1] as string, 'base64'));
    const forged = signCertificate(forger, {
      keyBlob: real.keyBlob,
      type: 'user',
      serial: real.serial,
      keyId: real.keyId,
      principals: real.principals,
      validAfter: real.validAfter,
      validBefore: real.validBefore,
      extensions: new Map([['permit-pty', null]]),
    });
    const forgedLogin = { ...g.login, keyPath: `${g.login.keyPath}`, certificate: forged };
    const r1 = await f.ssh(forgedLogin, ['true']);
    expect(r1.code).toBe(255);

    const revoked = await f.grant();
    expect((await f.h.as('alice').post(`/v1/requests/${revoked.requestId}/revoke`, {})).status).toBe(200);
    const before = f.sshd.log().length;
    const r2 = await f.ssh(revoked.login, ['true']);
    expect(r2.code).toBe(255);
    expect(r2.stderr).toMatch(/Permission denied/);
    // Nothing reached the host for it: sshd logged no connection since.
    expect(f.sshd.log().slice(before)).not.toMatch(/Connection from/);
    const events = await f.events(revoked.requestId);
    expect(events.some((e) => e.action === 'session.started')).toBe(false);
    const refusal = await waitFor(async () =>
      (await f.events(revoked.requestId)).find((e) => e.action === 'session.refused'),
    );
    expect(refusal.details.reason).toMatch(/grant is revoked/);
    expect((await f.events(g.requestId)).find((e) => e.action === 'session.refused')?.details.reason).toMatch(
      /not signed by the resource’s CA/,
    );
  });

  it('drops a connection that sends garbage instead of SSH, and keeps serving', async () => {
    const garbage = connect(f.proxyPort, '127.0.0.1');
    await new Promise((r) => garbage.once('connect', r));
    garbage.resume();
    garbage.write('SSH-2.0-garbage\r\n');
    garbage.write(Buffer.alloc(4096, 0xff));
    await new Promise((r) => garbage.once('close', r));
    const g = await f.grant();
    const r = await f.ssh(g.login, ['echo', 'after-garbage']);
    expect(r.stdout).toContain('after-garbage');
  });
});
