import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { createKindRegistry, createProvider } from '../../src/providers/registry.js';
import { parseCaKey } from '../../src/providers/ssh/ca-key.js';
import { signHostCertificate } from '../../src/providers/ssh/host-certificate.js';
import { sshKind } from '../../src/providers/ssh/index.js';
import { encodeKrl } from '../../src/providers/ssh/krl.js';
import { type LedgerState, openLedger } from '../../src/providers/ssh/ledger.js';
import { isPrincipalName, principalFor } from '../../src/providers/ssh/principal-name.js';
import { checkTakeInput } from '../../src/requests/take-input.js';
import { run } from '../support/sshd.js';

/**
 * The ssh kind's own checks, without a server: what the take accepts as a public key, what the policy accepts
 * as options and grants, how the CA key is read (and never shown), the KRL and host certificates as ssh-keygen
 * reads them, and the ledger's lock across processes.
 */
const dir = mkdtempSync(join(tmpdir(), 'stint-ssh-kind-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function keygen(
  type: string,
  bits?: number,
  passphrase = '',
): Promise<{ path: string; pub: string; priv: string }> {
  n += 1;
  const path = join(dir, `k${n}`);
  const args = [
    '-q',
    '-t',
    type,
    '-N',
    passphrase,
    '-C',
    `k${n}`,
    '-f',
    path,
    ...(bits ? ['-b', String(bits)] : []),
  ];
  const r = await run('ssh-keygen', args);
  if (r.code !== 0) throw new Error(r.stderr);
  return { path, pub: readFileSync(`${path}.pub`, 'utf8').trim(), priv: readFileSync(path, 'utf8') };
}

function thrown(fn: () => unknown): StintError {
  try {
    fn();
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

const take = (body: unknown) => checkTakeInput(sshKind.takeInput, body, 'prod-ssh');

describe('ssh kind: the public key the take accepts', () => {
  it('takes Ed25519, ECDSA (P-256/384/521) and RSA of 3072 bits, as ssh-keygen writes them', async () => {
    for (const [type, bits] of [
      ['ed25519', undefined],
      ['ecdsa', 256],
      ['ecdsa', 384],
      ['ecdsa', 521],
      ['rsa', 3072],
    ] as const) {
      const { pub } = await keygen(type, bits);
      expect(take({ publicKey: pub })).toEqual({ publicKey: pub });
    }
  });

  it('refuses anything else with a message naming the field and the rule, never the key', async () => {
    const rsa2048 = (await keygen('rsa', 2048)).pub;
    const ed = await keygen('ed25519');
    const [, edBlob] = ed.pub.split(' ');
    const rsaBlob = rsa2048.split(' ')[1] as string;
    const ecdsa = (await keygen('ecdsa', 256)).pub;
    const ecBlob = Buffer.from(ecdsa.split(' ')[1] as string, 'base64');
    // The point moved off the curve: same length and framing, not a key.
    ecBlob[ecBlob.length - 1] = (ecBlob[ecBlob.length - 1] as number) ^ 1;
    const cases: [unknown, RegExp][] = [
      [{ publicKey: rsa2048 }, /at least 3072 bits/],
      [{ publicKey: `ssh-dss ${edBlob}` }, /key type must be one of/],
      [{ publicKey: ed.priv }, /one line/],
      [{ publicKey: `${ed.pub}\n${ed.pub}` }, /one line/],
      [{ publicKey: `command="/bin/sh" ${ed.pub}` }, /must be an OpenSSH public key line/],
      [{ publicKey: `ssh-ed25519-cert-v01@openssh.com ${edBlob}` }, /key type must be one of/],
      [{ publicKey: `ssh-ed25519 ${rsaBlob}` }, /names another key type/],
      [{ publicKey: `ssh-ed25519 ${(edBlob as string).slice(0, 40)}` }, /malformed/],
      [{ publicKey: `ecdsa-sha2-nistp256 ${ecBlob.toString('base64')}` }, /malformed/],
      [{ publicKey: ed.pub, extra: 1 }, /Unrecognized key|unrecognized/i],
      [{}, /must be the OpenSSH public key to sign/],
      [undefined, /must be the OpenSSH public key to sign/],
    ];
    for (const [body, why] of cases) {
      const err = thrown(() => take(body));
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.message).toMatch(why);
      for (const secretish of [edBlob, rsaBlob, ecBlob.toString('base64')]) {
        expect(err.message).not.toContain((secretish as string).slice(0, 24));
        expect(JSON.stringify(err.details)).not.toContain((secretish as string).slice(0, 24));
      }
    }
  });
});

const HOST_CA = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFWkSl2lyhTK3+Ga9pZ2GfOn6fhRscpOQR8BPaMEj1n6 host-ca';
const policyText = (options: string, grants = '[deploy]') => `version: 1
users: [{ id: alice, email: alice@example.com, teams: [t] }]
resources:
  - id: prod-ssh
    kind: ssh
    sensitivity: critical
    connection: { env: STINT_SSH_CA }
    options: ${options}
    roles: { ops: { grants: ${grants} } }
rules: []
`;
const goodOptions = `{ host: bastion.example.com, principals: [deploy], hostCaPublicKey: "${HOST_CA}", stateDir: /var/lib/stint/ssh }`;

describe('ssh kind: the policy’s options and grants', () => {
  it('loads a resource with defaults: port 22, permit-pty only, the KRL in the state directory', async () => {
    const policy = parsePolicy(policyText(goodOptions), 'stint.yaml', BUILTIN_KINDS);
    const resource = policy.resources.get('prod-ssh');
    expect(resource?.options).toMatchObject({ port: 22, extensions: ['permit-pty'] });
    const ca = await keygen('ed25519');
    const resolved = createKindRegistry().resolve(resource as never, { STINT_SSH_CA: ca.priv });
    expect(resolved.config).toMatchObject({
      krlPath: '/var/lib/stint/ssh/revoked.krl',
      knownHosts: `@cert-authority bastion.example.com ${HOST_CA.split(' ').slice(0, 2).join(' ')}`,
    });
  });

  it('refuses bad options and grants at load, naming the place, never echoing a value', () => {
    const cases: [string, string, RegExp][] = [
      [`{ host: h, principals: [deploy], hostCaPublicKey: "${HOST_CA}" }`, '[deploy]', /stateDir/],
      [
        `{ host: h, principals: [deploy], hostCaPublicKey: "${HOST_CA}", stateDir: rel/dir }`,
        '[deploy]',
        /absolute path/,
      ],
      [
        `{ host: h, principals: [], hostCaPublicKey: "${HOST_CA}", stateDir: /s }`,
        '[deploy]',
        /at least one principal/,
      ],
      [
        `{ host: h, principals: [deploy], hostCaPublicKey: "not a key", stateDir: /s }`,
        '[deploy]',
        /OpenSSH public key line/,
      ],
      [
        `{ host: h, principals: [deploy], hostCaPublicKey: "${HOST_CA}", stateDir: /s, extensions: [permit-everything] }`,
        '[deploy]',
        /must be one of permit-pty/,
      ],
      [
        `{ host: h, principals: [deploy], hostCaPublicKey: "${HOST_CA}", stateDir: /s, sourceAddress: [10.0.0.0/33] }`,
        '[deploy]',
        /address or CIDR/,
      ],
      [goodOptions, '["force-command:/bin/true"]', /at least one principal to log in as/],
      [goodOptions, '["deploy", "rm -rf"]', /must be a principal name, force-command/],
      [goodOptions, '["deploy", "extension:permit-everything"]', /must be a principal name/],
    ];
    for (const [options, grants, why] of cases) {
      const err = thrown(() => parsePolicy(policyText(options, grants), 'stint.yaml', BUILTIN_KINDS));
      expect(err.code).toBe('POLICY_INVALID');
      expect(err.message).toMatch(why);
      expect(err.message).not.toContain('permit-everything');
    }
  });
});

const resourceWith = (
  connection: { env: string } | { file: string },
  options: Record<string, unknown> = {},
) => ({
  id: 'prod-ssh',
  kind: 'ssh',
  connection,
  options: sshKind.options.parse({
    host: '127.0.0.1',
    principals: ['deploy'],
    hostCaPublicKey: HOST_CA,
    stateDir: join(dir, `state-${randomBytes(3).toString('hex')}`),
    ...options,
  }),
});

describe('ssh kind: the CA key', () => {
  it('reads the key from an env var or a file, and lists every form of it for scrubbing', async () => {
    const ca = await keygen('ed25519');
    const fromEnv = createKindRegistry().resolve(resourceWith({ env: 'CA' }), { CA: ca.priv });
    const fromFile = createKindRegistry().resolve(resourceWith({ file: ca.path }), {});
    const expected = ca.pub.split(' ').slice(0, 2).join(' ');
    for (const r of [fromEnv, fromFile]) {
      const config = r.config as unknown as { ca: { publicLine: string }; secrets: string[] };
      expect(config.ca.publicLine).toBe(expected);
      expect(config.secrets).toContain(ca.priv.trim());
      for (const line of ca.priv.split('\n').filter((l) => l.length > 20 && !l.startsWith('-'))) {
        expect(config.secrets).toContain(line);
      }
    }
  });

  it('accepts a PKCS#8 PEM Ed25519 key, the form secret managers often hold', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const key = parseCaKey(pem);
    expect(key.publicLine).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI/);
  });

  it('refuses a passphrase-protected, non-Ed25519, garbled or host-CA key, naming where it looked, never a byte', async () => {
    const locked = await keygen('ed25519', undefined, 'hunter2-passphrase');
    const rsa = await keygen('rsa', 3072);
    const ed = await keygen('ed25519');
    const garbled = ed.priv.replace(/\n([A-Za-z0-9+/]{20})/, '\nAAAAAAAAAAAAAAAAAAAA');
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [locked.priv, {}, /env CA: the CA key is passphrase-protected: store it unencrypted/],
      [rsa.priv, {}, /env CA: the CA key must be Ed25519/],
      [garbled, {}, /env CA: the CA key cannot be read|not an OpenSSH key/],
      ['just some text', {}, /must be an OpenSSH .* or PKCS#8 PEM private key/],
      [ed.priv, { hostCaPublicKey: ed.pub }, /hostCaPublicKey is the user CA/],
    ];
    for (const [key, options, why] of cases) {
      const err = thrown(() =>
        createKindRegistry().resolve(resourceWith({ env: 'CA' }, options), { CA: key }),
      );
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toMatch(why);
      for (const line of key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-'))) {
        expect(err.message).not.toContain(line.slice(0, 20));
      }
    }
  });

  it('a state directory it cannot write is a clear, retryable PROVIDER_ERROR with the file system’s code', async () => {
    const ca = await keygen('ed25519');
    const resource = {
      ...resourceWith({ env: 'CA' }),
      description: '',
      sensitivity: 'routine' as const,
      roles: {},
    };
    // The state directory is a file: every ledger write fails with the file system's own message.
    writeFileSync(join(dir, 'not-a-dir'), '');
    const p = createProvider(
      { ...resource, options: { ...resource.options, stateDir: join(dir, 'not-a-dir') } },
      { CA: ca.priv },
      { owner: { deployment: 'd', storeId: 'st_1' } },
    );
    const err = (await p
      .issue(
        {
          requestId: 'req_1',
          requester: 'a',
          role: 'ops',
          grants: ['deploy'],
          expiresAt: new Date(Date.now() + 60_000),
        },
        NO_CANCEL,
      )
      .catch((e: unknown) => e)) as StintError<'PROVIDER_ERROR'>;
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message).toMatch(/ssh target prod-ssh: issue stint-req_1: (EEXIST|ENOTDIR)/);
    expect(err.details?.class).toBe('unknown');
    expect(err.details?.permanent).toBeUndefined();
  });
});

describe('ssh kind: KRL and host certificates as OpenSSH reads them', () => {
  it('a KRL with sections for two CAs revokes exactly what it lists, under its own CA', async () => {
    const caA = parseCaKey((await keygen('ed25519')).priv);
    const caB = parseCaKey((await keygen('ed25519')).priv);
    const krl = join(dir, 'two.krl');
    writeFileSync(
      krl,
      encodeKrl({
        version: 7n,
        generatedAt: new Date(),
        comment: 'two CAs',
        revoked: [
          { caBlob: caA.publicBlob, keyIds: ['b-id', 'a-id', 'a-id'], serials: [9n, 3n] },
          { caBlob: caB.publicBlob, keyIds: ['other'], serials: [] },
        ],
      }),
    );
    const listing = (await run('ssh-keygen', ['-Q', '-l', '-f', krl])).stdout;
    expect(listing).toMatch(/# KRL version 7/);
    // Each CA's section lists its own entries, sorted, each once.
    expect(listing).toContain(
      `CA key ssh-ed25519 ${caA.fingerprint}\nserial: 3\nserial: 9\nid: a-id\nid: b-id\n`,
    );
    expect(listing).toContain(`CA key ssh-ed25519 ${caB.fingerprint}\nid: other\n`);
    expect(listing.match(/id: a-id/g)).toHaveLength(1);
  });

  it('a host certificate names its host names and is a host, not a user, certificate', async () => {
    const hostCa = parseCaKey((await keygen('ed25519')).priv);
    const host = await keygen('ed25519');
    const cert = signHostCertificate(hostCa, {
      hostPublicKey: host.pub,
      hostnames: ['bastion.example.com', '10.0.0.5'],
      validFor: 7 * 86_400_000,
    });
    writeFileSync(`${host.path}-cert.pub`, `${cert}\n`);
    const listed = (await run('ssh-keygen', ['-L', '-f', `${host.path}-cert.pub`])).stdout;
    expect(listed).toMatch(/Type: ssh-ed25519-cert-v01@openssh\.com host certificate/);
    expect(listed).toMatch(/Principals: \n\s+bastion\.example\.com\n\s+10\.0\.0\.5\n/);
    expect(listed).toContain('Key ID: "stint-host:bastion.example.com"');
  });
});

describe('ssh kind: names and the ledger', () => {
  it('principal names are deterministic, and ids that do not fit keep a hash of the whole id', () => {
    expect(principalFor('req_0123abcd')).toBe('stint-req_0123abcd');
    const odd = principalFor('req/with spaces');
    expect(odd).toMatch(/^stint-req_with_spaces_[0-9a-f]{10}$/);
    expect(principalFor('req with/spaces')).not.toBe(principalFor('req/with spaces'));
    expect(principalFor('x'.repeat(200)).length).toBeLessThanOrEqual(80);
    for (const id of ['req_1', 'req/with spaces', 'y'.repeat(300)])
      expect(isPrincipalName(principalFor(id))).toBe(true);
    expect(isPrincipalName('root')).toBe(false);
  });

  it('a ledger that is not Stint’s is refused, never overwritten', async () => {
    const stateDir = join(dir, 'corrupt');
    const ledger = openLedger(
      { stateDir, krlPath: join(stateDir, 'k.krl') },
      { comment: 't', keepRevokedMs: 0 },
    );
    await ledger.update(NO_CANCEL, () => undefined);
    writeFileSync(ledger.ledgerPath, '{"grants": "oops"');
    await expect(ledger.update(NO_CANCEL, () => undefined)).rejects.toThrow(/not a Stint SSH ledger/);
    expect(readFileSync(ledger.ledgerPath, 'utf8')).toBe('{"grants": "oops"');
  });

  it('a change whose KRL cannot be published fails whole: the ledger does not record it', async () => {
    const stateDir = join(dir, 'unpublishable');
    writeFileSync(join(dir, 'a-file'), '');
    const ledger = openLedger(
      { stateDir, krlPath: join(dir, 'a-file', 'revoked.krl') },
      { comment: 't', keepRevokedMs: 0 },
    );
    const change = ledger.update(NO_CANCEL, (state, now) => {
      state.grants['stint-x'] = {
        requestId: 'x',
        keyId: 'x',
        storeId: 's',
        deployment: 'd',
        ca: '',
        issuedAt: now,
        expiresAt: now + 60_000,
        revokedAt: null,
        certificates: [],
      };
    });
    await expect(change).rejects.toThrow(/ENOTDIR|EEXIST/);
    expect((await ledger.read()).grants).toEqual({});
  });

  it('two processes changing one ledger at once lose nothing: the lock holds across processes', async () => {
    const stateDir = join(dir, 'shared');
    const krlPath = join(stateDir, 'revoked.krl');
    const writer = fileURLToPath(new URL('./ssh-ledger-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', writer, stateDir, krlPath, 'child', '40'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let childErr = '';
    child.stderr?.on('data', (d: Buffer) => {
      childErr += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const ledger = openLedger({ stateDir, krlPath }, { comment: 't', keepRevokedMs: 60_000 });
    const ca = parseCaKey((await keygen('ed25519')).priv).publicBlob.toString('base64');
    for (let i = 0; i < 40; i++) {
      await ledger.update(NO_CANCEL, (state, now) => {
        state.grants[`stint-parent-${i}`] = {
          requestId: `parent-${i}`,
          keyId: `parent-${i}`,
          storeId: 'st_parent',
          deployment: 'd',
          ca,
          issuedAt: now,
          expiresAt: now + 600_000,
          revokedAt: now,
          certificates: [],
        };
      });
    }
    expect(await exited, childErr).toBe(0);
    const state = JSON.parse(readFileSync(ledger.ledgerPath, 'utf8')) as LedgerState;
    const names = Object.keys(state.grants);
    expect(names.filter((p) => p.startsWith('stint-parent-'))).toHaveLength(40);
    expect(names.filter((p) => p.startsWith('stint-child-'))).toHaveLength(40);
    expect(state.krlVersion).toBe('80');
    const listing = (await run('ssh-keygen', ['-Q', '-l', '-f', krlPath])).stdout;
    expect(listing.match(/^id: /gm)).toHaveLength(80);
  });
});
