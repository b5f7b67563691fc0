import { join, resolve } from 'node:path';
import { StintError } from '../domain/errors.js';
import { loadPolicyFile } from '../policy/policy-loader.js';
import { migrate, openDatabase } from '../store/database.js';
import { createSessionStore } from './session-store.js';

/** As long as a `stint login` session (STINT_CLI_SESSION_TTL's default). */
const SESSION_TTL_MS = 12 * 3_600_000;

/**
 * `stint admin session create`: an operator on the server host signs a person in, for deployments without an
 * identity provider (and the demo). It is a session, not an API token, so the person can enrol a first second
 * factor with it, within five minutes, as after a fresh sign-in: the operator vouches for the person in front of
 * them. Anyone who can run this already holds the server's database, so it grants nothing new.
 */
export async function createSignInSession(opts: {
  userId: string;
  databaseUrl?: string;
  policyPath?: string;
  dataDir?: string;
}): Promise<{ id: string; token: string; expiresAt: string }> {
  const env = process.env;
  const policyPath = opts.policyPath ?? env.STINT_POLICY;
  if (policyPath && !loadPolicyFile(policyPath).users.has(opts.userId)) {
    throw new StintError('UNKNOWN_USER', `${opts.userId} is not in the directory of ${policyPath}`);
  }
  const dataDir = resolve(opts.dataDir ?? env.STINT_DATA_DIR ?? 'data');
  const store = openDatabase(
    opts.databaseUrl ?? env.STINT_DATABASE_URL ?? `sqlite:${join(dataDir, 'stint.db')}`,
  );
  try {
    await migrate(store);
    const now = new Date();
    const s = await createSessionStore(store.db).create({
      userId: opts.userId,
      source: 'cli',
      now,
      ttlMs: SESSION_TTL_MS,
      mfaAt: null,
      authAt: now,
    });
    return { id: s.id, token: s.token, expiresAt: s.expiresAt.toISOString() };
  } finally {
    await store.close();
  }
}
