import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { directoryConfigFromEnv } from '../directory/directory-config.js';
import { readDirectoryOnce } from '../directory/directory-once.js';
import { StintError } from '../domain/errors.js';
import { hostOperator } from '../domain/host-operator.js';
import { type HostSessionMode, hostSessionMode, IdentityConfigError } from '../identity/identity-config.js';
import { createSessionStore } from '../identity/session-store.js';
import { silentLogger } from '../logger.js';
import { loadPolicyFile } from '../policy/policy-loader.js';
import { migrate, openDatabase } from '../store/database.js';

/** As long as a `stint login` session (STINT_CLI_SESSION_TTL's default). */
const SESSION_TTL_MS = 12 * 3_600_000;

function modeFrom(env: NodeJS.ProcessEnv): HostSessionMode {
  try {
    return hostSessionMode(env);
  } catch (e) {
    if (e instanceof IdentityConfigError) throw new StintError('CONFIG_INVALID', e.message);
    throw e;
  }
}

/**
 * `stint admin session create`: an operator on the server host signs a person in, for deployments without an
 * identity provider (and the demo). It is a session, not an API token, so the person can enrol a first second
 * factor with it, within five minutes, as after a fresh sign-in: the operator vouches for the person in front of
 * them. Anyone who can run this already holds the server's store, so it grants nothing they could not take; what
 * it adds is a record. The session row names who made it on which host, the server announces it in the audit
 * trail before it acts (for the person to be told), every event it causes says it was host-made, and
 * STINT_HOST_SESSIONS limits it (by default to enrolling a first factor) or turns it off. Only someone the
 * directory knows now can have one: a session for an id nobody holds would go live when the id is provisioned.
 */
export async function createSignInSession(opts: {
  userId: string;
  databaseUrl?: string;
  policyPath?: string;
  dataDir?: string;
}): Promise<{ id: string; token: string; expiresAt: string }> {
  const env = process.env;
  if (modeFrom(env) === 'off') {
    throw new StintError(
      'HOST_SESSIONS_OFF',
      'sessions made on the server host are turned off (STINT_HOST_SESSIONS=off): the person signs in with `stint login`',
    );
  }
  const dataDir = resolve(opts.dataDir ?? env.STINT_DATA_DIR ?? 'data');
  // The demo's policy lives in the data folder; elsewhere the server needs STINT_POLICY, and so does this.
  const inDataDir = join(dataDir, 'stint.yaml');
  const policyPath = opts.policyPath ?? env.STINT_POLICY ?? (existsSync(inDataDir) ? inDataDir : undefined);
  if (!policyPath) {
    throw new StintError(
      'CONFIG_INVALID',
      'STINT_POLICY (or --policy) is needed to know who is in the directory: give the server its policy file',
    );
  }
  const yaml = loadPolicyFile(policyPath).users;
  const store = openDatabase(
    opts.databaseUrl ?? env.STINT_DATABASE_URL ?? `sqlite:${join(dataDir, 'stint.db')}`,
  );
  try {
    await migrate(store);
    const { users, unhealthy } = await readDirectoryOnce({
      config: directoryConfigFromEnv(env),
      store,
      yaml,
      logger: silentLogger,
    });
    if (!users.has(opts.userId)) {
      const partly = unhealthy.length > 0 ? ` (could not read: ${unhealthy.join(', ')})` : '';
      throw new StintError('UNKNOWN_USER', `${opts.userId} is not in the directory${partly}`);
    }
    const now = new Date();
    const s = await createSessionStore(store.db).create({
      userId: opts.userId,
      source: 'cli',
      now,
      ttlMs: SESSION_TTL_MS,
      mfaAt: null,
      authAt: now,
      hostMade: hostOperator(env),
    });
    return { id: s.id, token: s.token, expiresAt: s.expiresAt.toISOString() };
  } finally {
    await store.close();
  }
}
