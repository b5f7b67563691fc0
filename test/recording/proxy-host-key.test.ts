import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeHostKey } from '../../src/recording/ssh-proxy/proxy-host-key.js';

/**
 * ssh2 1.17's keygen cuts an Ed25519 public key that starts with a zero byte (1 key in 256), and a server whose
 * fresh data folder got such a key could not start. Every key made here must read back in OpenSSH itself.
 */
describe('the SSH proxy host key', () => {
  it('is always readable by ssh-keygen, over enough keys to meet the 1-in-256 case', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-hostkey-'));
    try {
      for (let i = 0; i < 600; i++) {
        const file = join(dir, `k${i}`);
        writeFileSync(file, makeHostKey(), { mode: 0o600 });
        const pub = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
        expect(pub).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]{68} ?/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
