import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPolicyHolder } from '../src/app/policy-holder.js';
import { createStint } from '../src/app/stint.js';
import { listAudit } from '../src/audit/audit-store.js';
import { generateNoteKey, parseSkey } from '../src/audit/log/signed-note.js';
import { createSecretBox } from '../src/crypto/secret-box.js';
import { silentLogger } from '../src/logger.js';
import { parsePolicy } from '../src/policy/policy-loader.js';
import { createProvider, defaultKinds } from '../src/providers/registry.js';
import { recordingDb } from '../src/recording/recording-tables.js';
import { DEFAULT_SEGMENT_LIMITS } from '../src/recording/segments.js';
import { DEFAULT_SAMPLING } from '../src/recording/session-review/sampling.js';
import { buildHttpApp } from '../src/server/http-app.js';
import { readStoreId } from '../src/store/store-identity.js';
import { policyFor } from '../test/recording/fixture.js';
import { HOST, type Login, type Sshd, sshArgs, startSshd, userKey } from '../test/support/sshd.js';
import { createTestStore } from '../test/support/stores.js';

/**
 * The real application with its SSH proxy, wired as src/server/start.ts wires it (createStint with a recording
 * configuration: the proxy inside the server, recordings in a local folder, the default 250 ms poll), on a SQLite
 * store, beside a real sshd. Grants are asked for, approved and taken over its HTTP API.
 */
export interface ProxyBench {
  sshd: Sshd;
  /** Asks as alice, waits until active, takes a certificate: logins through the proxy and straight to the host. */
  grant(duration?: string): Promise<{ requestId: string; proxy: Login; direct: Login; expiresAt: number }>;
  revoke(requestId: string): Promise<void>;
  /** Why the request's sessions ended (the session.ended events' reasons), for a failure's message. */
  endReasons(requestId: string): Promise<string[]>;
  /** Bytes of the request's sealed recording segments (once its sessions have ended). */
  recordingBytes(requestId: string): Promise<number>;
  close(): Promise<void>;
}

export async function startProxyBench(): Promise<ProxyBench> {
  const sshd = await startSshd({ principals: ['ops'] });
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-proxy-'));
  const testStore = await createTestStore('sqlite');
  const text = policyFor(sshd, {});
  // With the kinds, as the server parses it: each resource's options through its kind's schema (defaults filled).
  const parse = () => parsePolicy(text, 'bench.yaml', defaultKinds.kinds);
  const policy = createPolicyHolder(parse(), parse);
  const env = { STINT_SSH_CA: sshd.userCaKey };
  const stint = createStint({
    store: testStore.store,
    storeId: await readStoreId(testStore.store.db),
    policy,
    providerFactory: (r, owner, ctx) => createProvider(r, env, { owner, metrics: ctx.metrics }),
    secrets: createSecretBox(randomBytes(32)),
    logger: silentLogger,
    sweepIntervalMs: 500,
    audit: {
      signers: [parseSkey(generateNoteKey('stint-bench/rec-test').skey)],
      checkpointDir: join(dir, 'checkpoints'),
    },
    recording: {
      storage: 'local',
      dir: join(dir, 'recordings'),
      sshProxy: { host: HOST, port: 0, hostKeyFile: join(dir, 'proxy-host-key'), pollMs: 250 },
      segments: DEFAULT_SEGMENT_LIMITS,
      sampling: DEFAULT_SAMPLING,
    },
  });
  await stint.start();
  const app = await buildHttpApp(stint);
  const tokens = new Map<string, string>();
  for (const user of ['alice', 'sam'])
    tokens.set(user, (await stint.identity.tokens.create(user, 'bench', new Date())).token);
  const call = async (user: string, method: 'GET' | 'POST', url: string, body?: unknown) => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens.get(user)}` },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: API answers are read field by field
    const parsed = res.body ? (JSON.parse(res.body) as any) : null;
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return parsed;
  };

  return {
    sshd,
    async grant(duration = '10m') {
      const asked = await call('alice', 'POST', '/v1/requests', {
        resource: 'bastion',
        role: 'ops',
        reason: 'bench',
        duration,
      });
      let view = asked;
      for (let i = 0; view.state !== 'active' && i < 500; i++) {
        await new Promise((r) => setTimeout(r, 10));
        view = await call('alice', 'GET', `/v1/requests/${asked.id}`);
      }
      if (view.state !== 'active')
        throw new Error(`request ${asked.id} is ${view.state}: ${JSON.stringify(view)}`);
      const key = await userKey(dir);
      const taken = await call('alice', 'POST', `/v1/requests/${asked.id}/credentials`, {
        publicKey: key.publicKey,
      });
      const secret = taken.secret as Record<string, string>;
      const port = Number(secret.proxyAddress?.split(':').at(-1));
      const proxy: Login = {
        keyPath: key.path,
        certificate: secret.certificate ?? '',
        knownHosts: `[${HOST}]:${port} ${secret.proxyHostKey}`,
        user: sshd.account,
        port,
      };
      return {
        requestId: asked.id,
        proxy,
        direct: { ...proxy, knownHosts: secret.knownHosts ?? '', port: sshd.port },
        expiresAt: Date.parse(view.expiresAt),
      };
    },
    async revoke(requestId) {
      await call('sam', 'POST', `/v1/requests/${requestId}/revoke`, { comment: 'bench' });
    },
    async endReasons(requestId) {
      const events = await listAudit(testStore.store.db, { requestId, limit: 1000 });
      return events.filter((e) => e.action === 'session.ended').map((e) => String(e.details.reason));
    },
    async recordingBytes(requestId) {
      const row = await recordingDb(testStore.store.db)
        .selectFrom('recorded_sessions as s')
        .innerJoin('recordings as r', 'r.session_id', 's.id')
        .innerJoin('recording_segments as g', 'g.recording_id', 'r.id')
        .where('s.request_id', '=', requestId)
        .select((eb) => eb.fn.sum<number>('g.bytes').as('bytes'))
        .executeTakeFirst();
      return Number(row?.bytes ?? 0);
    },
    async close() {
      await app.close();
      await stint.stop();
      await testStore.close();
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `ssh` kept running, its output counted (and dropped), the instants of its first byte and exit taken. */
export interface Streamed {
  child: ChildProcess;
  bytes(): number;
  text(): string;
  firstByteAt(): number | null;
  exited: Promise<{ code: number | null; at: number }>;
}

export function streamSsh(login: Login, command: string[], keepText = false, extra: string[] = []): Streamed {
  const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
  const child = spawn('ssh', [...extra, ...sshArgs(login), ...command], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let bytes = 0;
  let first: number | null = null;
  let text = '';
  const take = (d: Buffer) => {
    first ??= performance.now();
    bytes += d.length;
    if (keepText) text += d.toString();
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  // 'close', not 'exit': after the last of its output is read (the proxy's "session ended" line is in it).
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('close', (code) => resolve({ code, at: performance.now() })),
  );
  return { child, bytes: () => bytes, text: () => text, firstByteAt: () => first, exited };
}

/**
 * A bulk transfer read outside this process: the bytes go to `wc -c` in a shell, so this process (which runs the
 * proxy too) is not the consumer, whose speed would otherwise throttle the proxy through the ssh windows.
 * Timed from the first line (`start`, read by the shell) to the last byte counted, by `date` in the same shell.
 */
export async function bulkTransfer(login: Login, file: string): Promise<{ bytes: number; seconds: number }> {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const ssh = ['ssh', ...[...sshArgs(login), `echo start; cat ${file}`].map(quote)];
  const script = `${ssh.join(' ')} | { read -r _; date +%s%N; wc -c; date +%s%N; }`;
  const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
  const out = await new Promise<string>((resolve, reject) =>
    execFile('sh', ['-c', script], { env, timeout: 300_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout),
    ),
  );
  const [first = '', count = '', last = ''] = out.trim().split('\n');
  return { bytes: Number(count), seconds: (Number(last) - Number(first)) / 1e9 };
}
