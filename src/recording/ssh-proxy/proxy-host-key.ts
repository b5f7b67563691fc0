import { readFile, writeFile } from 'node:fs/promises';
import ssh2 from 'ssh2';

/**
 * The proxy's own host key: read from its file, or made there (Ed25519, 0600) on first start. ssh2 cannot present
 * a host certificate, so users pin this key (its `known_hosts` line is logged at start and in docs/recording.md's
 * set-up) rather than trusting the proxy through the host CA.
 */
export async function loadProxyHostKey(file: string): Promise<{ privateKey: string; publicLine: string }> {
  let privateKey: string;
  try {
    privateKey = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    privateKey = makeHostKey();
    await writeFile(file, privateKey, { mode: 0o600, flag: 'wx' });
  }
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new Error(
      `the SSH proxy host key ${file} cannot be read (an unencrypted OpenSSH private key is needed)`,
    );
  }
  return { privateKey, publicLine: `${parsed.type} ${parsed.getPublicSSH().toString('base64')}` };
}

/** An Ed25519 public key blob: string "ssh-ed25519" (4 + 11 bytes) then string key (4 + 32 bytes). */
const ED25519_BLOB_BYTES = 51;

/**
 * A new Ed25519 host key in OpenSSH's format. ssh2 1.17's keygen drops the leading zero bytes of the public key,
 * so about 1 key in 256 is written 31 bytes long and can never be read back (by ssh2 or ssh-keygen): such a key
 * is made again before it is ever written.
 */
export function makeHostKey(): string {
  for (let attempt = 0; attempt < 16; attempt++) {
    const made = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'stint-ssh-proxy' });
    const parsed = ssh2.utils.parseKey(made.private);
    if (parsed instanceof Error || Array.isArray(parsed)) continue;
    if (parsed.getPublicSSH().length === ED25519_BLOB_BYTES) return made.private;
  }
  throw new Error('could not make a readable Ed25519 host key for the SSH proxy');
}
