import { randomBytes } from 'node:crypto';
import { type AwsState, randomId, settle } from './state.js';
import type { WireAnswer } from './wire.js';

const answer = (status: number, value: unknown): WireAnswer => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});

/**
 * The access portal's `GetRoleCredentials` (GET /federation/credentials, the user's SSO token in
 * `x-amz-sso_bearer_token`): what a signed-in user calls to get a permission set's credentials in an account.
 * Refused unless the user holds that assignment now; credentials already handed out last their own session
 * duration, as in Identity Center (deleting the assignment does not end them).
 */
export function handlePortal(
  state: AwsState,
  query: URLSearchParams,
  headers: Record<string, string>,
  now: number,
): WireAnswer {
  settle(state, now);
  const token = headers['x-amz-sso_bearer_token'];
  const user = [...state.users.values()].find((u) => u.portalToken === token);
  if (!user) return answer(401, { message: 'Session token not found or invalid' });
  const accountId = query.get('account_id');
  const ps = [...state.permissionSets.values()].find((p) => p.name === query.get('role_name'));
  const holds =
    ps !== undefined &&
    state.assignments.some(
      (a) =>
        a.accountId === accountId &&
        a.permissionSetArn === ps.arn &&
        a.principalType === 'USER' &&
        a.principalId === user.id,
    );
  if (!ps || !holds) return answer(403, { message: 'No access' });
  const hours = Number(/^PT(\d+)H$/.exec(ps.sessionDuration)?.[1] ?? '1');
  const session = {
    accessKeyId: randomId('ASIA', 16),
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(96).toString('base64'),
    roleName: `AWSReservedSSO_${ps.name}_${randomBytes(8).toString('hex')}`,
    sessionName: user.userName,
    tags: {},
    sourceIdentity: undefined,
    issuedAt: now,
    expiresAt: now + hours * 3_600_000,
    permissionSetArn: ps.arn,
  };
  state.sessions.set(session.accessKeyId, session);
  return answer(200, {
    roleCredentials: {
      accessKeyId: session.accessKeyId,
      secretAccessKey: session.secretAccessKey,
      sessionToken: session.sessionToken,
      expiration: session.expiresAt,
    },
  });
}
