import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/logger.js';
import type { Resource } from '../../src/policy/policy-types.js';
import {
  type CredentialProvider,
  isCancelled,
  isPermanentFailure,
  NO_CANCEL,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { parseCertificate } from '../../src/providers/ssh/certificate.js';
import { sshKind } from '../../src/providers/ssh/index.js';
import type { LedgerState } from '../../src/providers/ssh/ledger.js';
import { waitFor } from '../support/pg-client.js';
import {
  type Login,
  openSshSession,
  run,
  sshRun,
  startSshd,
  type UserKey,
  userKey,
} from '../support/sshd.js';

/**
 * What the ssh kind does beyond the contract, against a real sshd: the certificate's contents as ssh-keygen
 * reads them, logins with every accepted key type, the host trusted by its certificate alone, critical options
 * and extensions enforced by sshd, and the early cut-off through the KRL (with its lag measured).
 */
const sshd = await startSshd({ principals: ['ops', 'deploy'] });
afterAll(() => sshd.stop());

const ENV = 'STINT_TEST_SSH_CA';
const env = { [ENV]: sshd.userCaKey };
const owner: TargetOwner = { deployment: 'ssh-tests', storeId: `st_${randomBytes(6).toString('hex')}` };
const newId = () => `req_${randomBytes(6).toString('hex')}`;
const inAnHour = () => new Date(Date.now() + 3_600_000);

function spec(options: Record<string, unknown> = {}): Resource {
  return {
    id: 'ssh-test',
    kind: 'ssh',
    description: '',
    sensitivity: 'critical',
    connection: { env: ENV },
    options: sshKind.options.parse({
      host: '127.0.0.1',
      port: sshd.port,
      user: sshd.account,
      principals: ['ops', 'deploy', 'elsewhere'],
      hostCaPublicKey: sshd.hostCaPublicKey,
      stateDir: sshd.stateDir,
      krlPath: sshd.krlPath,
      ...options,
    }),
    roles: {},
  };
}

const logged: string[] = [];
const logger: Logger = {
  info: (o, m) => logged.push(JSON.stringify([o, m])),
  warn: (o, m) => logged.push(JSON.stringify([o, m])),
  error: (o, m) => logged.push(JSON.stringify([o, m])),
};
const providerWith = (options: Record<string, unknown> = {}, who = owner): CredentialProvider =>
  createProvider(spec(options), env, { owner: who, logger });

const ledger = (): LedgerState => JSON.parse(readFileSync(join(sshd.stateDir, 'ledger.json'), 'utf8'));

interface Taken {
  requestId: string;
  principal: string;
  secret: Record<string, string>;
  key: UserKey;
  login: Login;
}

/** Issue, then the take with a fresh key of the user's. */
async function issueAndTake(
  p: CredentialProvider,
  grants: string[] = ['ops'],
  opts: { expiresAt?: Date; key?: UserKey } = {},
): Promise<Taken> {
  const requestId = newId();
  const expiresAt = opts.expiresAt ?? inAnHour();
  const issued = await p.issue({ requestId, requester: 'alice', role: 'use', grants, expiresAt }, NO_CANCEL);
  const key = opts.key ?? (await userKey(sshd.dir));
  const made = await p.completeCredential?.(
    {
      requestId,
      requester: 'alice',
      role: 'use',
      grants,
      principal: issued.principal,
      expiresAt,
      input: { publicKey: key.publicKey },
    },
    NO_CANCEL,
  );
  const secret = { ...issued.secret, ...made?.secret } as Record<string, string>;
  return {
    requestId,
    principal: issued.principal,
    secret,
    key,
    login: {
      keyPath: key.path,
      certificate: secret.certificate as string,
      knownHosts: secret.knownHosts as string,
      user: secret.user as string,
      port: Number(secret.port),
    },
  };
}

/** `ssh-keygen -L` on the certificate: OpenSSH's own reading of what Stint signed (it checks the signature). */
async function keygenList(t: Taken): Promise<string> {
  const path = join(sshd.dir, `list-${randomBytes(4).toString('hex')}-cert.pub`);
  writeFileSync(path, `${t.secret.certificate}\n`);
  const r = await run('ssh-keygen', ['-L', '-f', path]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

const utc = (d: Date) => d.toISOString().slice(0, 19);

let provider: CredentialProvider;
beforeAll(async () => {
  provider = providerWith();
  // Publishes the first (empty) KRL: sshd refuses every key while the file RevokedKeys names is missing.
  await provider.ping({}, NO_CANCEL);
});

describe('ssh kind: the certificate', () => {
  it('is what ssh-keygen reads back: a user certificate for the request, this store and the window', async () => {
    const expiresAt = new Date(Date.now() + 20 * 60_000);
    const t = await issueAndTake(provider, ['ops', 'deploy'], { expiresAt });
    const listed = await keygenList(t);
    const parsed = parseCertificate(t.secret.certificate as string);
    const record = ledger().grants[t.principal];

    expect(listed).toMatch(/Type: ssh-ed25519-cert-v01@openssh\.com user certificate/);
    const keyId = `stint:request=${t.requestId};deployment=${owner.deployment};store=${owner.storeId}`;
    expect(listed).toContain(`Key ID: "${keyId}"`);
    expect(t.secret.keyId).toBe(keyId);
    expect(listed).toContain(`Serial: ${record?.certificates[0]?.serial}`);
    expect(listed).toMatch(/Principals: \n\s+ops\n\s+deploy\n/);
    expect(listed).toMatch(/Critical Options: \(none\)/);
    expect(listed).toMatch(/Extensions: \n\s+permit-pty\n$/);
    // Valid from just before the take (the clock allowance) to the window's end, never past it.
    expect(parsed.validBefore.getTime()).toBe(Math.floor(expiresAt.getTime() / 1000) * 1000);
    expect(Date.now() - parsed.validAfter.getTime()).toBeGreaterThanOrEqual(29_000);
    expect(Date.now() - parsed.validAfter.getTime()).toBeLessThan(40_000);
    expect(listed).toContain(`to ${utc(parsed.validBefore)}`);
    const caFingerprint = (await run('ssh-keygen', ['-l', '-f', join(sshd.dir, 'user_ca.pub')])).stdout.split(
      ' ',
    )[1];
    expect(listed).toContain(`Signing CA: ED25519 ${caFingerprint}`);
    // The ledger keeps the key's fingerprint, not the key, and the serial the KRL can name.
    expect(record?.certificates[0]?.key).toBe(parsed.keyFingerprint);
  });

  it('logs in for real with Ed25519, ECDSA and RSA-3072 keys, as the account the principal maps to', async () => {
    const keys = [
      await userKey(sshd.dir, 'ed25519'),
      await userKey(sshd.dir, 'ecdsa', 256),
      await userKey(sshd.dir, 'ecdsa', 384),
      await userKey(sshd.dir, 'ecdsa', 521),
      await userKey(sshd.dir, 'rsa', 3072),
    ];
    for (const key of keys) {
      const t = await issueAndTake(provider, ['ops'], { key });
      const r = await sshRun(t.login, ['id', '-un']);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(sshd.account);
      // sshd's own log names the request: the key id is in every accepted login line.
      expect(sshd.log()).toContain(
        `ID ${t.secret.keyId} (serial ${parseCertificate(t.login.certificate).serial})`,
      );
    }
  });

  // Only root's sshd can log in more than one account; run as another user, sshd serves only that one.
  it.skipIf(sshd.otherAccount === null)(
    'is refused for an account whose principals it does not carry',
    async () => {
      const t = await issueAndTake(provider);
      const r = await sshRun({ ...t.login, user: sshd.otherAccount as string }, ['true']);
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/Permission denied \(publickey\)/);
    },
  );

  it('is refused once its own window is over, with no revoke: validity is the grant window', async () => {
    // Long enough for the first login on a loaded machine; the test waits for its end either way.
    const expiresAt = new Date(Date.now() + 6_000);
    const t = await issueAndTake(provider, ['ops'], { expiresAt });
    expect((await sshRun(t.login, ['true'])).code).toBe(0);
    expect((await provider.verifyRevoked({ principal: t.principal }, NO_CANCEL)).gone).toBe(false);
    // The certificate ends on the whole second at or before the window's end (OpenSSH counts in seconds).
    expect(parseCertificate(t.login.certificate).validBefore.getTime()).toBeLessThanOrEqual(
      expiresAt.getTime(),
    );
    await new Promise((r) => setTimeout(r, expiresAt.getTime() - Date.now() + 50));
    const r = await sshRun(t.login, ['true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Permission denied/);
    expect((await provider.verifyRevoked({ principal: t.principal }, NO_CANCEL)).gone).toBe(true);
  });
});

describe('ssh kind: the host is trusted by its certificate, never on first use', () => {
  it('a known_hosts @cert-authority line for the host CA is all the client needs (StrictHostKeyChecking yes)', async () => {
    const t = await issueAndTake(provider);
    expect(t.secret.knownHosts).toBe(
      `@cert-authority [127.0.0.1]:${sshd.port} ${sshd.hostCaPublicKey.split(' ').slice(0, 2).join(' ')}`,
    );
    expect((await sshRun(t.login, ['true'])).code).toBe(0);
  });

  it('a host whose key another CA signed is refused: the client never falls back to trusting it', async () => {
    const t = await issueAndTake(provider);
    const other = await userKey(sshd.dir);
    const r = await sshRun(
      { ...t.login, knownHosts: `@cert-authority [127.0.0.1]:${sshd.port} ${other.publicKey}` },
      ['true'],
    );
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Host key verification failed/);
  });
});

describe('ssh kind: critical options and extensions, enforced by sshd', () => {
  it('force-command from a role grant replaces what the user asks to run', async () => {
    const t = await issueAndTake(provider, ['ops', 'force-command:echo forced-by-stint']);
    expect(await keygenList(t)).toMatch(/Critical Options: \n\s+force-command echo forced-by-stint\n/);
    const r = await sshRun(t.login, ['id', '-un']);
    expect(r.stdout.trim()).toBe('forced-by-stint');
  });

  it('source-address from the resource lets the certificate in from there only', async () => {
    const p = providerWith({ sourceAddress: ['127.0.0.1/32'] });
    const t = await issueAndTake(p);
    expect(await keygenList(t)).toMatch(/source-address 127\.0\.0\.1\/32/);
    expect((await sshRun(t.login, ['true'])).code).toBe(0);
    const elsewhere = await sshRun({ ...t.login, bind: '127.0.0.2' }, ['true']);
    expect(elsewhere.code).toBe(255);
    expect(sshd.log()).toMatch(/not from a permitted source address \(127\.0\.0\.2\)/);
  });

  it('a role cannot loosen the resource’s restriction: issue refuses, and records nothing', async () => {
    const p = providerWith({ sourceAddress: ['127.0.0.1/32'] });
    const requestId = newId();
    const err = await p
      .issue(
        {
          requestId,
          requester: 'a',
          role: 'x',
          grants: ['ops', 'source-address:0.0.0.0/0'],
          expiresAt: inAnHour(),
        },
        NO_CANCEL,
      )
      .catch((e: unknown) => e);
    expect(isPermanentFailure(err)).toBe(true);
    expect((err as Error).message).toMatch(/sets a source-address and so does the resource/);
    expect(ledger().grants[p.principalFor(requestId)]).toBeUndefined();
  });

  it('permit-pty is the only extension by default; a role grants port forwarding with extension:', async () => {
    const plain = await issueAndTake(provider);
    const tty = await sshRun(plain.login, ['tty'], ['-tt']);
    expect(tty.stdout).toMatch(/\/dev\/pts\//);
    const s = await openSshSession(plain.login);
    try {
      expect((await s.remoteForward()).code).toBe(255);
    } finally {
      await s.close();
    }

    const forwarder = await issueAndTake(provider, ['ops', 'extension:permit-port-forwarding']);
    const f = await openSshSession(forwarder.login);
    try {
      const r = await f.remoteForward();
      expect(r.code, r.stderr).toBe(0);
    } finally {
      await f.close();
    }

    const noPty = await issueAndTake(providerWith({ extensions: [] }));
    expect(await keygenList(noPty)).toMatch(/Extensions: \(none\)/);
    const refused = await sshRun(noPty.login, ['tty'], ['-tt']);
    expect(refused.stderr).toMatch(/PTY allocation request failed/);
    expect(refused.stdout).not.toMatch(/\/dev\/pts\//);
  });
});

describe('ssh kind: early revoke through the KRL Stint publishes', () => {
  it('new logins are refused once the KRL is written; a session already open lives on (endsSessions: false)', async () => {
    const t = await issueAndTake(provider);
    const session = await openSshSession(t.login);
    const certPath = `${t.key.path}-cert.pub`;
    expect((await run('ssh-keygen', ['-Q', '-f', sshd.krlPath, certPath])).stdout).toMatch(/: ok$/m);

    const started = performance.now();
    expect(await provider.revoke({ principal: t.principal }, NO_CANCEL)).toEqual({ outcome: 'expiring' });
    const published = performance.now() - started;
    // The first login after revoke answers: sshd reads RevokedKeys at each authentication.
    const refused = await sshRun(t.login, ['true']);
    const lag = performance.now() - started;
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Permission denied/);
    expect(sshd.log()).toMatch(/(Authentication key .* revoked|is revoked)/);
    console.info(
      `ssh KRL cut-off: revoke published the KRL in ${published.toFixed(1)} ms; the next login was refused ${lag.toFixed(1)} ms after revoke was called`,
    );

    const q = await run('ssh-keygen', ['-Q', '-f', sshd.krlPath, certPath]);
    expect(q.code).toBe(1);
    expect(q.stdout).toMatch(/REVOKED/);
    const listing = (await run('ssh-keygen', ['-Q', '-l', '-f', sshd.krlPath])).stdout;
    expect(listing).toContain(`id: ${t.secret.keyId}`);
    expect(listing).toContain(`serial: ${parseCertificate(t.login.certificate).serial}`);

    // What the kind declares: sshd does not end a session when its certificate is revoked or expires.
    expect(await session.alive()).toBe(true);
    expect((await session.exec(['id', '-un'])).stdout.trim()).toBe(sshd.account);
    await session.close();
    // Not gone while the certificate's own validity runs: a host without the new KRL would still take it.
    expect((await provider.verifyRevoked({ principal: t.principal }, NO_CANCEL)).gone).toBe(false);
  });

  it('revoke is idempotent, signs nothing more for the grant, and says absent for what was never issued', async () => {
    const t = await issueAndTake(provider);
    expect((await provider.revoke({ principal: t.principal }, NO_CANCEL)).outcome).toBe('expiring');
    const revokedAt = ledger().grants[t.principal]?.revokedAt;
    expect((await provider.revoke({ principal: t.principal }, NO_CANCEL)).outcome).toBe('expiring');
    expect(ledger().grants[t.principal]?.revokedAt).toBe(revokedAt);
    const again = await userKey(sshd.dir);
    const err = await provider
      .completeCredential?.(
        {
          requestId: t.requestId,
          requester: 'alice',
          role: 'use',
          grants: ['ops'],
          principal: t.principal,
          expiresAt: inAnHour(),
          input: { publicKey: again.publicKey },
        },
        NO_CANCEL,
      )
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/the grant was revoked/);
    expect(ledger().grants[t.principal]?.certificates).toHaveLength(1);
    expect((await provider.revoke({ principal: provider.principalFor(newId()) }, NO_CANCEL)).outcome).toBe(
      'absent',
    );
    const bad = await provider.revoke({ principal: 'root' }, NO_CANCEL).catch((e: unknown) => e);
    expect(isPermanentFailure(bad)).toBe(true);
  });

  it('an aborted revoke changes nothing and is retryable; the KRL is rebuilt whole by the next change', async () => {
    const t = await issueAndTake(provider);
    const controller = new AbortController();
    controller.abort();
    const err = await provider.revoke({ principal: t.principal }, controller.signal).catch((e: unknown) => e);
    expect(isCancelled(err)).toBe(true);
    expect(isPermanentFailure(err)).toBe(false);
    expect(ledger().grants[t.principal]?.revokedAt).toBeNull();
    expect((await sshRun(t.login, ['true'])).code).toBe(0);

    // A KRL lost (deleted, or overwritten by an older copy) is republished whole by the next change.
    expect((await provider.revoke({ principal: t.principal }, NO_CANCEL)).outcome).toBe('expiring');
    rmSync(sshd.krlPath);
    expect((await provider.revoke({ principal: t.principal }, NO_CANCEL)).outcome).toBe('expiring');
    expect((await run('ssh-keygen', ['-Q', '-l', '-f', sshd.krlPath])).stdout).toContain(
      `id: ${t.secret.keyId}`,
    );
    expect((await sshRun(t.login, ['true'])).code).toBe(255);
  });

  it('never touches another store’s grant: no revoke, no certificate, no KRL entry', async () => {
    const other = providerWith(
      {},
      { deployment: 'ssh-tests', storeId: `st_${randomBytes(6).toString('hex')}` },
    );
    const theirs = await issueAndTake(other);
    const err = await provider.revoke({ principal: theirs.principal }, NO_CANCEL).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/another Stint store/);
    expect(ledger().grants[theirs.principal]?.revokedAt).toBeNull();
    const listing = (await run('ssh-keygen', ['-Q', '-l', '-f', sshd.krlPath])).stdout;
    expect(listing).not.toContain(theirs.secret.keyId);
    expect((await sshRun(theirs.login, ['true'])).code).toBe(0);
    const key = await userKey(sshd.dir);
    const take = await provider
      .completeCredential?.(
        {
          requestId: theirs.requestId,
          requester: 'mallory',
          role: 'use',
          grants: ['ops'],
          principal: theirs.principal,
          expiresAt: inAnHour(),
          input: { publicKey: key.publicKey },
        },
        NO_CANCEL,
      )
      .catch((e: unknown) => e);
    expect((take as Error).message).toMatch(/another Stint store/);
  });

  it('keeps a revoked key id listed until its window is over, then drops it from the KRL and the ledger', async () => {
    const t = await issueAndTake(provider, ['ops'], { expiresAt: new Date(Date.now() + 1_500) });
    await provider.revoke({ principal: t.principal }, NO_CANCEL);
    expect((await run('ssh-keygen', ['-Q', '-l', '-f', sshd.krlPath])).stdout).toContain(t.secret.keyId);
    // Past the window and the clock allowance (60 s) the entry has nothing left to stop; fake the ledger's age
    // rather than wait a minute.
    const state = ledger();
    const record = state.grants[t.principal];
    if (record) record.expiresAt = Date.now() - 61_000;
    writeFileSync(join(sshd.stateDir, 'ledger.json'), JSON.stringify(state));
    await provider.ping({}, NO_CANCEL);
    await provider.revoke({ principal: provider.principalFor(newId()) }, NO_CANCEL);
    expect(ledger().grants[t.principal]).toBeUndefined();
    expect((await run('ssh-keygen', ['-Q', '-l', '-f', sshd.krlPath])).stdout).not.toContain(t.secret.keyId);
  });
});

describe('ssh kind: the CA key stays secret', () => {
  it('no log line of a whole issue, take and revoke carries the CA key, the certificate or the user key', async () => {
    logged.length = 0;
    const t = await issueAndTake(provider);
    await provider.revoke({ principal: t.principal }, NO_CANCEL);
    await provider.revoke({ principal: 'not a principal' }, NO_CANCEL).catch(() => {});
    const all = logged.join('\n');
    expect(logged.length).toBeGreaterThanOrEqual(3);
    const seed = sshd.userCaKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-'));
    for (const line of seed) expect(all).not.toContain(line);
    expect(all).not.toContain((t.secret.certificate as string).split(' ')[1]);
    expect(all).not.toContain(t.key.publicKey.split(' ')[1]);
    expect(all).toContain('"inputFields":["publicKey"]');
  });

  it('a stale lock left by a killed process is broken; a live holder is waited for', async () => {
    const lock = join(sshd.stateDir, 'ledger.json.lock');
    writeFileSync(lock, '999999 0 dead');
    const t = await issueAndTake(provider);
    expect(t.secret.certificate).toBeDefined();

    writeFileSync(lock, `${process.pid} ${Date.now()} live`);
    let done = false;
    const pending = provider.revoke({ principal: t.principal }, NO_CANCEL).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toBe(false);
    rmSync(lock);
    expect((await pending).outcome).toBe('expiring');
    await waitFor(async () => done);
  });
});
