import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SecretBox } from '../../crypto/secret-box.js';

/**
 * The SSH proxy token: a login to the recording proxy for a user who has a live grant on an SSH resource but not
 * its certificate at hand (taken on another machine, or through the portal into a key they do not have here).
 * Typed as the password (or keyboard-interactive answer) of `ssh -p <port> <account>@<proxy>`.
 *
 * `stint-ssh.<request id>.<mac>`, the mac being HMAC-SHA256 over the store, the request, its requester, its grant's
 * principal and the instant the grant's credential was shown, keyed by a key every server derives from the
 * encryption key (SecretBox.deriveKey). Nothing of it is stored: the proxy recomputes the mac from the store's rows
 * and compares in constant time. So a token is one take's (the credential is shown once, and the instant with it),
 * one grant's and one user's; it opens nothing once the grant is no longer live (checked at every login and for
 * the session's whole life, as a certificate login is); a store reader cannot make one without the encryption
 * key. It is named for SSH throughout: the PostgreSQL proxy has secrets of its own.
 */
export interface SshProxyTokenGrant {
  storeId: string;
  requestId: string;
  requester: string;
  principal: string;
  /** grants.credential_shown_at: the take that showed the token. */
  shownAt: number;
}

const PREFIX = 'stint-ssh.';
const PURPOSE = 'ssh-proxy-token/v1';
const REQUEST_ID = /^req_[A-Za-z0-9_-]{1,64}$/;

export interface SshProxyTokens {
  issue(grant: SshProxyTokenGrant): string;
  /** The request a token names (to read its grant), or null when it is not shaped like a proxy token. */
  requestOf(token: string): string | null;
  /** Whether `token` is the one issued for `grant`, in constant time. */
  matches(token: string, grant: SshProxyTokenGrant): boolean;
}

export function createSshProxyTokens(secrets: Pick<SecretBox, 'deriveKey'>): SshProxyTokens {
  const key = secrets.deriveKey(PURPOSE);
  const mac = (g: SshProxyTokenGrant) =>
    createHmac('sha256', key)
      .update([PURPOSE, g.storeId, g.requestId, g.requester, g.principal, String(g.shownAt)].join('\n'))
      .digest();
  const parts = (token: string): [string, string] | null => {
    if (!token.startsWith(PREFIX) || token.length > 200) return null;
    const [requestId = '', given = '', extra] = token.slice(PREFIX.length).split('.');
    if (extra !== undefined || !REQUEST_ID.test(requestId) || !/^[A-Za-z0-9_-]{43}$/.test(given)) return null;
    return [requestId, given];
  };
  return {
    issue: (g) => `${PREFIX}${g.requestId}.${mac(g).toString('base64url')}`,
    requestOf: (token) => parts(token)?.[0] ?? null,
    matches(token, g) {
      const p = parts(token);
      if (!p || p[0] !== g.requestId) return false;
      // The text as issued, not its decoding: base64url's last character carries two unused bits, so four
      // spellings decode to the same MAC, and only the one Stint showed is the token.
      const expected = Buffer.from(`${PREFIX}${g.requestId}.${mac(g).toString('base64url')}`);
      const given = Buffer.from(token);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
