import { evaluate, type PolicyDocument } from './policy-eval.js';
import type { AwsState, Session } from './state.js';
import { fault } from './wire.js';

/** Who signed a request: Stint's own key, or temporary credentials the double minted. */
export type Caller = { kind: 'admin' } | { kind: 'session'; session: Session };

export function callerArn(state: AwsState, caller: Caller): string {
  if (caller.kind === 'admin') return state.admin.arn;
  const { roleName, sessionName } = caller.session;
  return `arn:aws:sts::${state.accountId}:assumed-role/${roleName}/${sessionName}`;
}

/** The identity policies that apply to a session: its role's attached and inline ones, or its permission set's. */
function sessionPolicies(state: AwsState, session: Session): PolicyDocument[] {
  if (session.permissionSetArn) {
    const ps = state.permissionSets.get(session.permissionSetArn);
    return ps ? [ps.policy] : [];
  }
  const role = state.roles.get(session.roleName);
  if (!role) return [];
  return [...role.attached, ...[...role.inline.values()].map((text) => JSON.parse(text) as PolicyDocument)];
}

function principalTags(state: AwsState, session: Session): Record<string, string> {
  const role = state.roles.get(session.roleName);
  // Session tags override the role's tags of the same key, as AWS documents.
  return { ...Object.fromEntries(role?.tags ?? []), ...session.tags };
}

/**
 * Refuses with AccessDenied unless the caller's identity policies allow the action on the resource: Stint's key by
 * the documented policy, a session by its role's policies, deny statements and session tags included.
 */
export function authorize(
  state: AwsState,
  caller: Caller,
  action: string,
  resource: string,
  now: number,
): void {
  const ctx = { action, resource, now: new Date(now) };
  const decision =
    caller.kind === 'admin'
      ? evaluate([state.admin.policy], { ...ctx, principalTags: {} })
      : evaluate(sessionPolicies(state, caller.session), {
          ...ctx,
          principalTags: principalTags(state, caller.session),
          tokenIssuedAt: new Date(caller.session.issuedAt),
        });
  if (decision === 'allow') return;
  const why =
    decision === 'explicit-deny'
      ? 'with an explicit deny in an identity-based policy'
      : `because no identity-based policy allows the ${action} action`;
  throw fault(
    403,
    action.startsWith('sso:') ? 'AccessDeniedException' : 'AccessDenied',
    `User: ${callerArn(state, caller)} is not authorized to perform: ${action} on resource: ${resource} ${why}`,
  );
}
