import { randomBytes } from 'node:crypto';
import { isStintError } from '../../domain/errors.js';
import type { Policy } from '../../policy/policy-types.js';

/** One resource's answer to `stint policy check --live`: its target reached with Stint's admin, or why not. */
export interface LiveCheck {
  resource: string;
  kind: string;
  ok: boolean;
  /** What answered (e.g. `PostgreSQL 15.8`), when it did. */
  target?: string;
  /** CONFIG_INVALID (the connection cannot be read) or PROVIDER_ERROR (the target refused or is out of reach). */
  code?: string;
  /** For PROVIDER_ERROR: auth, privilege, unreachable … (what an operator fixes). */
  class?: string;
  message?: string;
}

const PING_MS = 10_000;

/**
 * Reaches every resource's target as the server would (the kind's own configuration, read once, the one wrapper
 * with its deadlines and secret scrubbing) and asks it to answer. Nothing is created on any target: a ping
 * only connects as Stint's admin. Messages carry no secret: the wrapper scrubs the kind's configured secrets.
 */
export async function checkTargetsLive(policy: Policy, env: NodeJS.ProcessEnv): Promise<LiveCheck[]> {
  const { defaultKinds } = await import('../../providers/registry.js');
  // A store id of the right shape that no store has: a ping reads nothing of any store's, and kinds that check
  // the owner's shape (redis names its users with it) accept it.
  const owner = { deployment: policy.settings.deployment, storeId: `st_${randomBytes(8).toString('hex')}` };
  const checks: LiveCheck[] = [];
  for (const resource of policy.resources.values()) {
    const row: LiveCheck = { resource: resource.id, kind: resource.kind, ok: false };
    checks.push(row);
    let provider: Awaited<ReturnType<typeof defaultKinds.create>> | undefined;
    try {
      provider = defaultKinds.create(defaultKinds.resolve(resource, env), { owner });
      const { target } = await provider.ping({}, AbortSignal.timeout(PING_MS));
      Object.assign(row, { ok: true, target });
    } catch (e) {
      if (!isStintError(e)) throw e;
      const details = (e.details ?? {}) as { class?: string };
      Object.assign(row, {
        code: e.code,
        message: e.message,
        ...(details.class ? { class: details.class } : {}),
      });
    } finally {
      await provider?.close().catch(() => {});
    }
  }
  return checks;
}
