import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { CredentialProvider, RevokeResult } from '../../provider.js';
import type { AwsTarget } from '../aws-target.js';
import { isOwn, ledgerDeployment } from '../ledger.js';
import { deleteDeny } from './deny-policy.js';
import { RoleIndex } from './find-entries.js';
import { issueSession } from './issue-session.js';
import { revokeSession, SESSION_END_MARGIN_S, sessionGone } from './revoke-session.js';
import { allEntries, dropEntry, type RoleEntry } from './role-ledger.js';

/**
 * A revoked grant's deny and record are cleared this long after its window: past any session of it (which ends at
 * the window's end plus AssumeRole's transit), and the deny's share of the role's inline policy quota freed soon.
 */
const CLEANUP_AFTER_S = 2 * 60;

type ModeProvider = Omit<CredentialProvider, 'kind' | 'principalFor' | 'close'>;

/**
 * assume-role mode: one STS session per grant on the IAM role the policy names, revoked by a deny on that
 * request's session tags, recorded on the role as a ledger tag so the reconciler can list and clear what it made.
 */
export function assumeRoleMode(
  t: AwsTarget,
  revoke: (p: string, s: AbortSignal) => Promise<RevokeResult>,
): ModeProvider {
  const index = new RoleIndex();

  /** Clears revoked records whose window has long passed, with their deny: the reconciler's sweep of the ledger. */
  async function clearEnded(entries: RoleEntry[], signal: AbortSignal): Promise<void> {
    for (const e of entries) {
      if (!isOwn(e, t.owner) || e.state !== 'revoked') continue;
      if (t.now() < (e.until + Math.max(CLEANUP_AFTER_S, SESSION_END_MARGIN_S)) * 1000) continue;
      await deleteDeny(t, e.roleName, e.principal, signal);
      await dropEntry(t, e.roleName, e.principal, signal);
    }
  }

  return {
    issue: (request, signal) => issueSession(t, index, request, signal, revoke),
    revoke: ({ principal }, signal) => revokeSession(t, index, principal, signal),
    verifyRevoked: async ({ principal }, signal) => ({
      gone: await sessionGone(t, index, principal, signal),
    }),
    async listOwned(_request, signal) {
      const entries = await allEntries(t, signal);
      index.learn(entries);
      await clearEnded(entries, signal);
      return {
        principals: entries
          .filter((e) => isOwn(e, t.owner) && e.state === 'live')
          .map((e) => ({ principal: e.principal, requestId: e.requestId, claim: 'store' as const })),
      };
    },
    async listForeign(_request, signal) {
      const entries = await allEntries(t, signal);
      return {
        principals: entries
          .filter(
            (e) =>
              !isOwn(e, t.owner) &&
              e.deployment === ledgerDeployment(t.owner.deployment) &&
              e.state === 'live',
          )
          .map((e) => ({ principal: e.principal, storeId: e.storeId })),
      };
    },
    async ping(_request, signal) {
      const me = await t.send('who am I', signal, (o) => t.sts.send(new GetCallerIdentityCommand({}), o));
      return { target: `AWS account ${me.Account ?? 'unknown'} as ${me.Arn ?? 'unknown'}` };
    },
  };
}
