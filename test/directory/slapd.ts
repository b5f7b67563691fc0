import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SLAPD = process.env.STINT_TEST_SLAPD ?? '/usr/sbin/slapd';

export interface Slapd {
  url: string;
  /** With `tls`: the ldaps:// listener and the PEM file of the self-signed certificate (the CA to trust). */
  ldapsUrl: string | null;
  caFile: string | null;
  suffix: string;
  rootDN: string;
  rootPassword: string;
  /** Applies LDIF with ldapadd (or ldapmodify when `modify`). */
  ldif(text: string, opts?: { modify?: boolean }): Promise<void>;
  remove(dn: string): Promise<void>;
  /** Stops the server, keeping its data, so start() brings the same directory back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode}: ${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`slapd did not listen on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A throwaway OpenLDAP server: its own slapd.conf, MDB database and port, seeded with the base entries. */
export async function startSlapd(opts: { tls?: boolean } = {}): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-slapd-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (opts.tls) {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
  }
  const suffix = 'dc=example,dc=com';
  const rootDN = `cn=admin,${suffix}`;
  const rootPassword = 'slapd-test-secret';
  mkdirSync(join(dir, 'db'));
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'include /etc/ldap/schema/nis.schema',
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      ...(opts.tls ? [`TLSCertificateFile ${cert}`, `TLSCertificateKeyFile ${key}`] : []),
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      'database mdb',
      'maxsize 10485760',
      `suffix "${suffix}"`,
      `rootdn "${rootDN}"`,
      `rootpw ${rootPassword}`,
      `directory ${join(dir, 'db')}`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const tlsPort = opts.tls ? await freePort() : null;
  const ldapsUrl = tlsPort === null ? null : `ldaps://127.0.0.1:${tlsPort}`;
  let child: ChildProcess | null = null;
  let output = '';

  const auth = ['-x', '-H', url, '-D', rootDN, '-w', rootPassword];
  const slapd: Slapd = {
    url,
    ldapsUrl,
    caFile: opts.tls ? cert : null,
    suffix,
    rootDN,
    rootPassword,
    async ldif(text, opts = {}) {
      const file = join(dir, `change-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`);
      writeFileSync(file, text);
      await run(opts.modify ? 'ldapmodify' : 'ldapadd', [...auth, '-f', file]);
    },
    async remove(dn) {
      await run('ldapdelete', [...auth, dn]);
    },
    async start() {
      // -d keeps slapd in the foreground, so it is this test's child and dies with it.
      const listeners = [`${url}/`, ...(ldapsUrl ? [`${ldapsUrl}/`] : [])].join(' ');
      const c = spawn(SLAPD, ['-f', conf, '-h', listeners, '-d', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout?.on('data', (d) => {
        output += String(d);
      });
      c.stderr?.on('data', (d) => {
        output += String(d);
      });
      child = c;
      await waitForPort(port, c, () => output);
      if (tlsPort !== null) await waitForPort(tlsPort, c, () => output);
    },
    async stop() {
      const c = child;
      child = null;
      if (c === null || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      });
    },
    async destroy() {
      await slapd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await slapd.start();
  await slapd.ldif(
    [
      `dn: ${suffix}`,
      'objectClass: dcObject',
      'objectClass: organization',
      'o: Example',
      'dc: example',
      '',
      `dn: ou=people,${suffix}`,
      'objectClass: organizationalUnit',
      'ou: people',
      '',
      `dn: ou=groups,${suffix}`,
      'objectClass: organizationalUnit',
      'ou: groups',
      '',
    ].join('\n'),
  );
  return slapd;
}
