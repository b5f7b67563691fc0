import { join, resolve } from 'node:path';
import { StintError } from '../domain/errors.js';
import { loadPolicyFile } from '../policy/policy-loader.js';
import { migrate, openDatabase } from '../store/database.js';
import { createTokenStore } from './token-store.js';

/**
 * `stint admin token create`: an operator on the server host mints a token straight in the store. The user must
 * exist in the policy's directory when a policy is given, so a typo does not create a token for nobody.
 */
export async function createApiToken(opts: {
  userId: string;
  name: string;
  databaseUrl?: string;
  policyPath?: string;
  dataDir?: string;
}): Promise<{ id: string; token: string }> {
  const env = process.env;
  const policyPath = opts.policyPath ?? env.STINT_POLICY;
  if (policyPath) {
    const policy = loadPolicyFile(policyPath);
    if (!policy.users.has(opts.userId)) {
      throw new StintError('UNKNOWN_USER', `${opts.userId} is not in the directory of ${policyPath}`);
    }
  }
  const dataDir = resolve(opts.dataDir ?? env.STINT_DATA_DIR ?? 'data');
  const store = openDatabase(
    opts.databaseUrl ?? env.STINT_DATABASE_URL ?? `sqlite:${join(dataDir, 'stint.db')}`,
  );
  try {
    await migrate(store);
    return await createTokenStore(store.db).create(opts.userId, opts.name, new Date());
  } finally {
    await store.close();
  }
}
