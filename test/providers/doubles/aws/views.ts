import { authorize } from './authz.js';
import { type AwsState, settle } from './state.js';
import { AwsFault } from './wire.js';

/**
 * The account as its root sees it, for the contract suite's `principalExists`: what a grant still gives, read from
 * the double's state rather than through the provider.
 */

/** A session of that name that has not expired and that its role's policies (denies included) still let act. */
export function sessionUsable(state: AwsState, sessionName: string, now: number): boolean {
  for (const session of state.sessions.values()) {
    if (session.sessionName !== sessionName || session.permissionSetArn || session.expiresAt <= now) continue;
    const role = state.roles.get(session.roleName);
    if (!role) continue;
    try {
      authorize(state, { kind: 'session', session }, 'iam:GetRole', role.arn, now);
      return true;
    } catch (e) {
      if (!(e instanceof AwsFault)) throw e;
    }
  }
  return false;
}

/** A ledger record of that principal (any store's) on a permission set whose assignment exists now. */
export function assignmentHeld(state: AwsState, principal: string, now: number): boolean {
  settle(state, now);
  for (const ps of state.permissionSets.values()) {
    for (const [key, value] of ps.tags) {
      if (!key.endsWith(`:${principal}`)) continue;
      const user = /(?:^| )user=(\S+)/.exec(value)?.[1];
      const account = /(?:^| )account=(\S+)/.exec(value)?.[1];
      if (
        state.assignments.some(
          (a) => a.permissionSetArn === ps.arn && a.principalId === user && a.accountId === account,
        )
      )
        return true;
    }
  }
  return false;
}

/** Every ledger tag (key → value) on roles and permission sets, for tests reading what Stint recorded. */
export function ledgerTags(state: AwsState): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of state.roles.values())
    for (const [k, v] of r.tags) if (k.startsWith('stint:')) out.set(k, v);
  for (const p of state.permissionSets.values())
    for (const [k, v] of p.tags) if (k.startsWith('stint:')) out.set(k, v);
  return out;
}
