/**
 * A second process for the ledger lock test (ssh-kind.test.ts): makes `count` changes to the ledger in
 * `stateDir`, each a revoked grant named `stint-<label>-<i>`, while the test's own process makes its own.
 * Arguments: stateDir krlPath label count.
 */
import { generateKeyPairSync } from 'node:crypto';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { parseCaKey } from '../../src/providers/ssh/ca-key.js';
import { openLedger } from '../../src/providers/ssh/ledger.js';

const [stateDir = '', krlPath = '', label = 'child', count = '10'] = process.argv.slice(2);
const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const ca = parseCaKey(pem).publicBlob.toString('base64');
const ledger = openLedger({ stateDir, krlPath }, { comment: 't', keepRevokedMs: 60_000 });
for (let i = 0; i < Number(count); i++) {
  await ledger.update(NO_CANCEL, (state, now) => {
    state.grants[`stint-${label}-${i}`] = {
      requestId: `${label}-${i}`,
      keyId: `${label}-${i}`,
      storeId: `st_${label}`,
      deployment: 'd',
      ca,
      issuedAt: now,
      expiresAt: now + 600_000,
      revokedAt: now,
      certificates: [],
    };
  });
}
