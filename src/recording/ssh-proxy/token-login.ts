import { certificateGrant } from '../../providers/ssh/grants.js';
import {
  type LoginCheckDeps,
  LoginRefused,
  liveGrant,
  liveUntil,
  localAddresses,
  type SessionGrant,
  sourceAddressAllows,
} from './login-check.js';
import type { SshProxyTokens } from './proxy-token.js';

export interface TokenAttempt {
  username: string;
  /** What the client typed as its password (or keyboard-interactive answer). */
  token: string;
  clientAddress: string;
}

/**
 * Decides a login with a grant's SSH proxy token (proxy-token.ts): the token names a request of this store whose
 * grant is live (as for a certificate: active, in its window, not revoked, in the ssh kind's ledger) and is the
 * one its take showed, compared in constant time; the account is one the grant's certificate would let in; the
 * grant's `source-address` holds for the client as it would for the certificate. What the session may do (a pty,
 * port forwarding) is what the role's certificate would carry; the host decides again at the proxy's own login.
 */
export async function checkTokenLogin(
  deps: LoginCheckDeps & { tokens: SshProxyTokens },
  attempt: TokenAttempt,
): Promise<SessionGrant> {
  const requestId = deps.tokens.requestOf(attempt.token);
  if (requestId === null) throw new LoginRefused('not a Stint SSH proxy token');
  const refuse = (why: string) => new LoginRefused(why, requestId);
  const live = await liveGrant(deps, requestId);
  const { request, resource, role, grant, options } = live;
  const shownAt = grant.credential_shown_at;
  if (shownAt === null) throw refuse('the grant’s credential was never taken: it has no proxy token');
  const issued = {
    storeId: deps.storeId,
    requestId,
    requester: request.requester,
    principal: grant.principal,
    shownAt: Number(shownAt),
  };
  if (!deps.tokens.matches(attempt.token, issued)) throw refuse('the proxy token does not match the grant');

  // What the grant's certificate would carry: the role's grants over the resource's restrictions.
  const carries = certificateGrant(
    role.grants.filter((g) => g.length > 0),
    {
      forceCommand: options.forceCommand,
      sourceAddress: options.sourceAddress,
      extensions: options.extensions,
    },
  );
  const accounts = new Set([...carries.principals, ...(options.user ? [options.user] : [])]);
  if (!accounts.has(attempt.username)) throw refuse(`the grant lets nobody in as ${attempt.username}`);
  const from = carries.criticalOptions.get('source-address');
  if (from !== undefined && !sourceAddressAllows(from, attempt.clientAddress, localAddresses())) {
    throw refuse(`source-address does not allow ${attempt.clientAddress}`);
  }
  return {
    request,
    resource,
    role,
    principal: grant.principal,
    expiresAt: new Date(Math.min(liveUntil(request), live.record.expiresAt)),
    account: attempt.username,
    login: { method: 'token' },
    forwarding: (options.proxy?.portForwarding ?? false) && carries.extensions.has('permit-port-forwarding'),
    pty: carries.extensions.has('permit-pty'),
  };
}
