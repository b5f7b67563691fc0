import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { sshKind } from '../../src/providers/ssh/index.js';
import { type Login, run, sshRun, startSshd, userKey } from '../../test/support/sshd.js';
import { summarize } from '../stats.js';
import type { KindFigures } from './figures.js';

/**
 * The ssh kind against a real sshd started for the run: Stint's issue (record the grant, sign the user's key at
 * the take, first login) against OpenSSH's own `ssh-keygen -s` and the same first login; and the revoke lag, from
 * revoke called to the first login refused (the KRL is read by sshd at every authentication).
 */
export async function measureSsh(samples = 30): Promise<KindFigures> {
  const sshd = await startSshd({ principals: ['ops'] });
  try {
    const ENV = 'STINT_BENCH_SSH_CA';
    const caPath = join(sshd.dir, 'user_ca');
    const provider = createProvider(
      {
        id: 'bench-ssh',
        kind: 'ssh',
        connection: { env: ENV },
        options: sshKind.options.parse({
          host: '127.0.0.1',
          port: sshd.port,
          user: sshd.account,
          principals: ['ops'],
          hostCaPublicKey: sshd.hostCaPublicKey,
          stateDir: sshd.stateDir,
          krlPath: sshd.krlPath,
        }),
      },
      { [ENV]: sshd.userCaKey },
      { owner: { deployment: 'bench', storeId: `st_${randomBytes(6).toString('hex')}` } },
    );
    await provider.ping({}, NO_CANCEL);
    const knownHosts = `@cert-authority [127.0.0.1]:${sshd.port} ${sshd.hostCaPublicKey}`;
    const login = (keyPath: string, certificate: string): Login => ({
      keyPath,
      certificate,
      knownHosts,
      user: sshd.account,
      port: sshd.port,
    });
    const mustLogIn = async (l: Login) => {
      const r = await sshRun(l, ['true']);
      if (r.code !== 0) throw new Error(`login failed: ${r.stderr}`);
    };

    const issue: number[] = [];
    const signing: number[] = [];
    const primitive: number[] = [];
    const lag: number[] = [];
    let retried = 0;
    for (let i = 0; i < samples; i++) {
      // The user's keys are made beforehand on both paths: key generation is the user's, not the CA's.
      const mine = await userKey(sshd.dir);
      const theirs = await userKey(sshd.dir);

      const requestId = `req_${randomBytes(6).toString('hex')}`;
      const expiresAt = new Date(Date.now() + 3_600_000);
      let t = performance.now();
      const issued = await provider.issue(
        { requestId, requester: 'bench', role: 'ops', grants: ['ops'], expiresAt },
        NO_CANCEL,
      );
      const made = await provider.completeCredential?.(
        {
          requestId,
          requester: 'bench',
          role: 'ops',
          grants: ['ops'],
          principal: issued.principal,
          expiresAt,
          input: { publicKey: mine.publicKey },
        },
        NO_CANCEL,
      );
      signing.push(performance.now() - t);
      const stint = login(mine.path, made?.secret.certificate as string);
      await mustLogIn(stint);
      issue.push(performance.now() - t);

      t = performance.now();
      const signed = await run('ssh-keygen', [
        '-q',
        '-s',
        caPath,
        '-I',
        `bench-${i}`,
        '-n',
        'ops',
        '-V',
        '-30s:+1h',
        '-O',
        'clear',
        '-O',
        'permit-pty',
        `${theirs.path}.pub`,
      ]);
      if (signed.code !== 0) throw new Error(`ssh-keygen -s failed: ${signed.stderr}`);
      await mustLogIn(login(theirs.path, readFileSync(`${theirs.path}-cert.pub`, 'utf8').trim()));
      primitive.push(performance.now() - t);

      // Revoke lag: attempts start as soon as revoke answers; the lag ends when one that started is refused.
      t = performance.now();
      await provider.revoke({ principal: issued.principal }, NO_CANCEL);
      for (;;) {
        const attemptAt = performance.now();
        const r = await sshRun(stint, ['true']);
        if (r.code !== 0) {
          lag.push(attemptAt - t);
          break;
        }
        retried += 1;
        if (attemptAt - t > 10_000) throw new Error('the revoked certificate still logs in after 10 s');
      }
    }
    const issueS = summarize(issue);
    const lagS = summarize(lag);
    return {
      kind: 'ssh',
      samples,
      issueP50Ms: issueS.p50,
      issueP99Ms: issueS.p99,
      primitive: 'ssh-keygen -s (user CA) + first login',
      primitiveP50Ms: summarize(primitive).p50,
      revokeLagP50Ms: lagS.p50,
      revokeLagP99Ms: lagS.p99,
      notes: [
        'issue = provider.issue (ledger record) + completeCredential (sign the user key) + first ssh login; the user key is made beforehand on both paths',
        'revoke lag = revoke called (ledger + KRL written, fsynced) to the start of the first login attempt sshd refused; sshd reads RevokedKeys at each authentication, so hosts that read the file directly have no further lag; a KRL copied to hosts adds the copy interval',
        `of which Stint's own part (issue + completeCredential, no login): p50 ${summarize(signing).p50} ms`,
        `logins still accepted after revoke answered: ${retried} (should be 0)`,
        'endsSessions: false: a session opened before the revoke is not ended (sshd never re-checks a certificate)',
      ],
    };
  } finally {
    await sshd.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measureSsh(Number(process.argv[2] ?? 30)), null, 2));
}
