import { isStintError, StintError } from '../domain/errors.js';
import { activate, fail } from '../domain/state-machine.js';
import type { CredentialProvider } from '../providers/provider.js';
import type { WorkflowDeps } from '../requests/context.js';
import type { TransitionRunner } from '../requests/transition-runner.js';
import { grantStore } from '../store/grant-store.js';
import { describeError } from './revoker.js';

/**
 * Longer than any issuance (the provider's connect and statement timeouts are a few seconds); a server that dies
 * holding a claim is replaced by another once it lapses.
 */
const CLAIM_MS = 15_000;

/**
 * Turns an approved request into a live credential. Driven by committed state (the outbox): approval commits
 * first, then this runs after commit, and a crash in between is picked up again from the `approved` state.
 */
export function createIssuer(
  deps: Pick<WorkflowDeps, 'store' | 'requests' | 'policy' | 'providers' | 'secrets' | 'clock' | 'logger'>,
  run: TransitionRunner,
  onActivated: (requestId: string, expiresAt: Date) => void,
) {
  const db = deps.store.db;

  async function failRequest(id: string, reason: string): Promise<void> {
    const now = deps.clock();
    try {
      await run(id, now, (r) => fail(r, reason, now));
    } catch (e) {
      if (!isStintError(e) || e.code !== 'INVALID_TRANSITION') throw e;
    }
  }

  return async function issue(id: string): Promise<void> {
    if (!(await deps.requests.claimIssue(db, id, deps.clock(), CLAIM_MS))) return;
    const request = await deps.requests.mustGet(db, id);
    const resource = deps.policy.current().resources.get(request.resource);
    const roleDef = resource?.roles[request.role];
    if (!resource || !roleDef) {
      return failRequest(id, `${request.resource}/${request.role} is no longer in the policy`);
    }

    let provider: CredentialProvider;
    let issued: Awaited<ReturnType<CredentialProvider['issue']>>;
    // The window starts now, at activation; the target enforces the same instant (VALID UNTIL).
    const activatedAt = deps.clock();
    const expiresAt = new Date(activatedAt.getTime() + request.durationSeconds * 1000);
    try {
      provider = deps.providers.get(resource);
      issued = await provider.issue({
        requestId: id,
        requester: request.requester,
        role: request.role,
        grants: roleDef.grants,
        expiresAt,
      });
    } catch (e) {
      deps.logger.warn({ requestId: id, err: e }, 'credential issuance failed');
      return failRequest(id, `issuing the credential failed: ${describeError(e)}`);
    }

    const sealed = deps.secrets.seal(JSON.stringify(issued.secret), id);
    try {
      await run(
        id,
        activatedAt,
        (r) => activate(r, activatedAt),
        async (trx) => {
          await grantStore.insert(trx, {
            requestId: id,
            resource: resource.id,
            principal: issued.principal,
            sealed,
            now: activatedAt,
          });
        },
      );
    } catch (e) {
      // Withdrawn or revoked while we issued, or the store failed: nothing may be left on the target.
      await provider.revoke(issued.principal).catch((err: unknown) => {
        deps.logger.error(
          { requestId: id, err },
          'undoing an unrecorded credential failed; the reconciler will remove it',
        );
      });
      if (isStintError(e) && e.code === 'INVALID_TRANSITION') return;
      deps.logger.error({ requestId: id, err: e }, 'recording the issued credential failed');
      await failRequest(id, 'recording the credential failed').catch(() => {});
      throw e instanceof StintError ? e : new StintError('INTERNAL', 'recording the credential failed');
    }
    onActivated(id, expiresAt);
  };
}

export type Issuer = ReturnType<typeof createIssuer>;
