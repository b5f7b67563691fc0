import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SESSION_COOKIE } from '../../http/request-context.js';
import type { SchemaTypes } from '../../http/schemas.js';
import type { IdentityModule } from '../../identity/identity-module.js';
import { isSessionToken } from '../../identity/session-store.js';
import type { BuiltPortal } from '../portal.js';
import { sendPortalShell } from './portal-routes.js';

/** Who a valid credential on the request belongs to, and by which kind of credential. */
interface Caller {
  id: string;
  name: string;
  via: 'portal session' | 'CLI session' | 'API token';
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Names come from the directory (YAML, SCIM, LDAP or OIDC claims) and the host from the request: both escaped. */
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/**
 * The page is the same for everyone but for the "signed in as" line, which must never be cached for another
 * caller; it runs no script and loads nothing, and the policy says so.
 */
const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  vary: 'Cookie, Authorization',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function page(caller: Caller | null, origin: string, signIn: boolean): string {
  const o = escapeHtml(origin);
  const who = caller
    ? `<p>Signed in as <strong>${escapeHtml(caller.id)}</strong> (${escapeHtml(caller.name)}), by ${caller.via}.</p>`
    : signIn
      ? '<p>Not signed in. <a href="/auth/login">Sign in</a> with your company account.</p>'
      : '<p>Not signed in. This server has no single sign-on configured: it takes API tokens only (an operator ' +
        'makes one with <code>stint admin token create --user &lt;id&gt;</code> on the server host).</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stint</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
pre{background:#f4f4f4;padding:.75rem;overflow-x:auto}</style>
</head>
<body>
<h1>Stint</h1>
<p>Just-in-time privileged access, with no standing privilege. The web portal is not built on this server
(<code>npm run build</code>): you ask, approve and take credentials with the <code>stint</code> command line or the
HTTP API.</p>
${who}
<h2>Command line</h2>
<pre>export STINT_URL=${o}
stint login            # sign in with the company's provider (add --device where no browser opens)
stint whoami
stint resources
stint request &lt;resource&gt; --role &lt;role&gt; --reason &lt;ticket&gt; --for 1h
stint requests --to-approve
stint approve &lt;request id&gt;</pre>
<p>Approving sensitive or critical access needs a fresh second factor: <code>stint mfa enroll totp</code> once,
then <code>stint mfa verify --code &lt;code&gt;</code> before approving.</p>
<h2>HTTP API</h2>
<ul>
<li><a href="/openapi.json">/openapi.json</a>: the OpenAPI document of every route</li>
<li><a href="/healthz">/healthz</a> and <a href="/readyz">/readyz</a>: liveness and readiness</li>
<li>Send <code>Authorization: Bearer &lt;token&gt;</code> (an API token or the session <code>stint login</code>
keeps)</li>
</ul>
</body>
</html>
`;
}

/**
 * `GET /`: where a browser sign-in lands (`/auth/callback` redirects here) and where a newcomer starts. Public,
 * so it never refuses; a credential that does not check out shows the signed-out page. It only reads who the
 * caller is and grants nothing, so it is rate-limited rather than counted for lock-out. With a built portal it
 * answers the portal instead, which asks the API who is signed in.
 */
export function homeRoutes(
  identity: Pick<IdentityModule, 'sessions' | 'tokens' | 'policy' | 'clock'>,
  opts: { signIn: boolean; portal?: BuiltPortal | null },
) {
  const { sessions, tokens, policy, clock } = identity;

  async function callerOf(request: FastifyRequest): Promise<Caller | null> {
    const header = request.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
    const cookie = request.cookies[SESSION_COOKIE];
    const token = bearer ?? cookie;
    if (!token) return null;
    const session = isSessionToken(token);
    const check = session ? await sessions.check(token, clock()) : await tokens.check(token, clock());
    if (!check.ok) return null;
    const user = policy.current().users.get(check.userId);
    if (!user) return null;
    const via = !session ? 'API token' : bearer === undefined ? 'portal session' : 'CLI session';
    return { id: user.id, name: user.name, via };
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/',
      {
        config: { public: true, rateLimit: { max: 60, timeWindow: 60_000 } },
        schema: {
          operationId: 'getStartPage',
          summary:
            'The portal when it is built; otherwise a start page: who you are, where the CLI and API are',
          tags: ['health'],
          security: [],
          response: {
            200: { description: 'An HTML page', content: { 'text/html': { schema: { type: 'string' } } } },
            429: { $ref: 'Error#' },
          },
        },
      },
      async (request, reply) => {
        if (opts.portal) return sendPortalShell(reply, opts.portal);
        const caller = await callerOf(request);
        return reply
          .headers(HEADERS)
          .send(page(caller, `${request.protocol}://${request.host}`, opts.signIn));
      },
    );
  };
}
