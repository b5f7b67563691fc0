import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateNoteKey } from '../audit/log/signed-note.js';
import { StintError } from '../domain/errors.js';
import { loadPolicyFile } from '../policy/policy-loader.js';
import {
  DEMO_TARGET_INFO,
  type DemoTarget,
  demoTargetFragmentPath,
  demoTargetsMissing,
  demoTargetUrls,
  parseDemoTargets,
  withDemoTargets,
} from './demo-targets.js';
import { checkKeyDir, defaultKeyDir, keyPlacement } from './key-location.js';

const KEY_FILES = ['encryption.key', 'audit-signing.key'] as const;

/**
 * Keys the demo made before they moved out of the data folder: refused, never used or moved silently. A key
 * that sat beside the store may have been read by whoever could write the store; moving it is the operator's
 * call, and so is rotating it.
 */
function refuseKeysInDataDir(dataDir: string, keyDir: string, env: NodeJS.ProcessEnv): void {
  const left = KEY_FILES.filter((name) => existsSync(join(dataDir, name)));
  if (left.length === 0 || env.STINT_ALLOW_KEYS_IN_DATA_DIR === 'true') return;
  const files = left.map((name) => join(dataDir, name)).join(' ');
  throw new StintError(
    'CONFIG_INVALID',
    `invalid configuration: ${files} ${left.length > 1 ? 'sit' : 'sits'} in the data directory, beside the ` +
      'store, where whoever can write the store can read the keys. The demo keeps its keys in a folder of their ' +
      `own now (STINT_KEY_DIR or --key-dir, default ${keyDir}): move them there (mkdir -m 700 -p ${keyDir} && ` +
      `mv ${files} ${keyDir}/) and start again; if others could read the data directory, rotate the audit ` +
      'signing key (docs/audit.md, Keys)',
  );
}

/**
 * A policy the demo did not write is never rewritten: a person may have edited it. When it lacks a target the
 * quick start was asked for, say what to add.
 */
function noteMissingTargets(policyPath: string, targets: DemoTarget[], warn: (line: string) => void): void {
  if (targets.length === 0 || !existsSync(policyPath)) return;
  for (const target of demoTargetsMissing(readFileSync(policyPath, 'utf8'), targets)) {
    const fragment = demoTargetFragmentPath(target);
    warn(
      `note: ${policyPath} exists and has no ${DEMO_TARGET_INFO[target].resource} resource; it is kept as it is. ` +
        `To use the ${target} target, add the resource and rules of ${fragment} (below) to it, or move it ` +
        'away and start again to have the demo policy written anew with them.',
    );
    warn(readFileSync(fragment, 'utf8').trimEnd());
  }
}

/**
 * The quick start: a data folder with the demo policy, its keys generated in a folder of their own (never in the
 * data folder, where whoever can write the store could read them), and the demo target's admin URL pointing at
 * the machine's local PostgreSQL (prepared by scripts/demo-target.sql).
 *
 * STINT_DEMO_TARGETS (`mariadb,redis`; scripts/quickstart.sh --with sets it) adds those targets' resources and
 * rules (examples/demo-targets/) to the demo policy when it writes it, and points their admin URLs at what
 * scripts/demo-targets.sh prepared. An existing policy is kept as it is; `warn` says what to add to it.
 */
export function prepareDemo(
  dataDir: string,
  env: NodeJS.ProcessEnv,
  givenPolicyPath?: string,
  givenKeyDir?: string,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): { policyPath: string; keyDir: string } {
  // Everything that can refuse runs before anything is written.
  const targets = parseDemoTargets(env.STINT_DEMO_TARGETS);
  const keyDir = resolve(givenKeyDir ?? env.STINT_KEY_DIR ?? defaultKeyDir(dataDir));
  checkKeyDir('STINT_KEY_DIR (or --key-dir)', keyDir, keyPlacement(env, dataDir));
  refuseKeysInDataDir(dataDir, keyDir, env);
  const targetUrls = demoTargetUrls(dataDir, keyDir, env, targets);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (!existsSync(keyDir)) {
    mkdirSync(keyDir, { recursive: true, mode: 0o700 });
    chmodSync(keyDir, 0o700);
  }
  const policyPath = join(dataDir, 'stint.yaml');
  const example = fileURLToPath(new URL('../../examples/stint.yaml', import.meta.url));
  const existed = existsSync(policyPath);
  if (!existed && targets.length === 0) copyFileSync(example, policyPath);
  else if (!existed) writeFileSync(policyPath, withDemoTargets(readFileSync(example, 'utf8'), targets));
  // Only the policy the server will load matters: a policy given elsewhere, else the one already here.
  if (givenPolicyPath || existed) noteMissingTargets(givenPolicyPath ?? policyPath, targets, warn);
  // Allowed to stay (STINT_ALLOW_KEYS_IN_DATA_DIR=true), keys already in the data folder are used where they are.
  const keyPath = (name: (typeof KEY_FILES)[number]) =>
    existsSync(join(dataDir, name)) ? join(dataDir, name) : join(keyDir, name);
  const keyFile = keyPath('encryption.key');
  if (!existsSync(keyFile)) {
    writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    chmodSync(keyFile, 0o600);
  }
  if (!env.STINT_ENCRYPTION_KEY && !env.STINT_ENCRYPTION_KEY_FILE) env.STINT_ENCRYPTION_KEY_FILE = keyFile;
  const auditKeyFile = keyPath('audit-signing.key');
  // The key's name is the log's origin, which checkpoints and witnesses carry: it names this deployment, and
  // an existing key is kept (the origin of a log never changes).
  if (!existsSync(auditKeyFile)) {
    const { deployment } = loadPolicyFile(givenPolicyPath ?? policyPath).settings;
    writeFileSync(auditKeyFile, `${generateNoteKey(`${deployment}/audit`).skey}\n`, { mode: 0o600 });
    chmodSync(auditKeyFile, 0o600);
  }
  if (!env.STINT_AUDIT_SIGNING_KEY && !env.STINT_AUDIT_SIGNING_KEY_FILE)
    env.STINT_AUDIT_SIGNING_KEY_FILE = auditKeyFile;
  // The quick start signs carol in on the host and she approves with that session; outside the demo a host-made
  // session only enrols a first factor unless the operator says otherwise.
  env.STINT_HOST_SESSIONS ??= 'full';
  // Demo-only login created by scripts/demo-target.sql on the local PostgreSQL; real targets name their own.
  env.STINT_DEMO_DB_URL ??= 'postgres://stint_admin:stint-demo-only@127.0.0.1:5432/postgres';
  // Made by scripts/demo-targets.sh with random passwords: a published one would open the machine's MariaDB.
  for (const [name, url] of Object.entries(targetUrls)) env[name] ??= url;
  return { policyPath, keyDir };
}
