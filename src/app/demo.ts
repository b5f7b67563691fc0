import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateNoteKey } from '../audit/log/signed-note.js';
import { loadPolicyFile } from '../policy/policy-loader.js';

/**
 * The quick start: a data folder with the demo policy and a generated encryption key, and the demo target's
 * admin URL pointing at the machine's local PostgreSQL (prepared by scripts/demo-target.sql).
 */
export function prepareDemo(
  dataDir: string,
  env: NodeJS.ProcessEnv,
  givenPolicyPath?: string,
): { policyPath: string } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const policyPath = join(dataDir, 'stint.yaml');
  if (!existsSync(policyPath)) {
    copyFileSync(fileURLToPath(new URL('../../examples/stint.yaml', import.meta.url)), policyPath);
  }
  const keyFile = join(dataDir, 'encryption.key');
  if (!existsSync(keyFile)) {
    writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    chmodSync(keyFile, 0o600);
  }
  if (!env.STINT_ENCRYPTION_KEY && !env.STINT_ENCRYPTION_KEY_FILE) env.STINT_ENCRYPTION_KEY_FILE = keyFile;
  const auditKeyFile = join(dataDir, 'audit-signing.key');
  // The key's name is the log's origin, which checkpoints and witnesses carry: it names this deployment, and
  // an existing key is kept (the origin of a log never changes).
  if (!existsSync(auditKeyFile)) {
    const { deployment } = loadPolicyFile(givenPolicyPath ?? policyPath).settings;
    writeFileSync(auditKeyFile, `${generateNoteKey(`${deployment}/audit`).skey}\n`, { mode: 0o600 });
  }
  if (!env.STINT_AUDIT_SIGNING_KEY && !env.STINT_AUDIT_SIGNING_KEY_FILE)
    env.STINT_AUDIT_SIGNING_KEY_FILE = auditKeyFile;
  // The quick start signs carol in on the host and she approves with that session; outside the demo a host-made
  // session only enrols a first factor unless the operator says otherwise.
  env.STINT_HOST_SESSIONS ??= 'full';
  // Demo-only login created by scripts/demo-target.sql on the local PostgreSQL; real targets name their own.
  env.STINT_DEMO_DB_URL ??= 'postgres://stint_admin:stint-demo-only@127.0.0.1:5432/postgres';
  return { policyPath };
}
