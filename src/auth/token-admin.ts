import { join, resolve } from 'node:path';
import { StintError } from '../domain/errors.js';
import { hostOperator } from '../domain/host-operator.js';
import { loadPolicyFile } from '../policy/policy-loader.js';
import { migrate, openDatabase } from '../store/database.js';
import { createTokenStore } from './token-store.js';

/**
 * `stint admin token create`: an operator on the server host mints a token straight in the store. The user must
 * exist in the policy's directory when a policy is given, so a typo does not create a token for nobody. The row
 * names who ran it on which host; this command holds no audit key, so the server writes `token.host-created`
 * (before the token's first use acts, or from its sweep if nobody uses it).
 */
export async function createApiToken(opts: {
  userId: string;
  name: string;
  databaseUrl?: string;
  policyPath?: string;
  dataDir?: string;
  /** Without scopes the token carries the user's full power (and may be without expiry): document why. */
  scopes?: readonly string[];
  expiresAt?: Date;
}): Promise<{ id: string; token: string }> {
  const env = process.env;
  const policyPath = opts.policyPath ?? env.STINT_POLICY;
  if (policyPath) {
    const policy = loadPolicyFile(policyPath);
    if (!policy.users.has(opts.userId)) {
      throw new StintError('UNKNOWN_USER', `${opts.userId} is not in the directory of ${policyPath}`);
    }
  }
  return withStore(opts, (tokens) =>
    tokens.create(opts.userId, opts.name, new Date(), opts.expiresAt ?? null, opts.scopes ?? null, {
      hostMade: hostOperator(env),
    }),
  );
}

/**
 * `stint admin token revoke`: revokes any user's token by id on the server host. NOT_FOUND when unknown. The row
 * names who revoked it on which host, for the server's sweep to announce (`token.host-revoked`).
 */
export async function revokeApiToken(opts: {
  id: string;
  databaseUrl?: string;
  dataDir?: string;
}): Promise<{ id: string; userId: string; revokedAt: string | null }> {
  return withStore(opts, async (tokens) => {
    if ((await tokens.revoke(opts.id, new Date(), hostOperator())) === 'unknown') {
      throw new StintError('NOT_FOUND', `token ${opts.id} not found`);
    }
    const t = await tokens.get(opts.id);
    return { id: opts.id, userId: t?.userId ?? '', revokedAt: t?.revokedAt ?? null };
  });
}

async function withStore<T>(
  opts: { databaseUrl?: string; dataDir?: string },
  use: (tokens: ReturnType<typeof createTokenStore>) => Promise<T>,
): Promise<T> {
  const env = process.env;
  const dataDir = resolve(opts.dataDir ?? env.STINT_DATA_DIR ?? 'data');
  const store = openDatabase(
    opts.databaseUrl ?? env.STINT_DATABASE_URL ?? `sqlite:${join(dataDir, 'stint.db')}`,
  );
  try {
    await migrate(store);
    return await use(createTokenStore(store.db));
  } finally {
    await store.close();
  }
}
