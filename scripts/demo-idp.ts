/**
 * The quick start's stand-in for a company identity provider, so the portal can be tried without one: a real
 * OpenID provider (panva's oidc-provider, a dev dependency) on http://127.0.0.1:7071 whose login page signs in
 * whichever demo user you name, with no password. For the demo only: it trusts whoever is at the keyboard.
 *
 *   STINT_DEMO_IDP_PORT (7071), STINT_DEMO_PORTAL_URL (http://localhost:7070), STINT_OIDC_CLIENT_SECRET (required)
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.STINT_DEMO_IDP_PORT ?? 7071);
const portal = process.env.STINT_DEMO_PORTAL_URL ?? 'http://localhost:7070';
const secret = process.env.STINT_OIDC_CLIENT_SECRET;
if (!secret) throw new Error('STINT_OIDC_CLIENT_SECRET: the portal client secret both sides share');
const issuer = `http://127.0.0.1:${port}`;
const USERS = ['alice', 'bob', 'carol', 'sam', 'dave', 'erin', 'admin'].map((u) => `${u}@example.com`);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'stint-portal',
      client_secret: secret,
      redirect_uris: [`${portal}/auth/callback`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  cookies: { keys: [randomBytes(16).toString('hex')] },
  claims: { openid: ['sub', 'amr', 'auth_time'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, email: sub, email_verified: true }) }),
  // The demo's only client is Stint: consent is given.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client?.clientId as string,
      accountId: ctx.oidc.session?.accountId as string,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
});

const page = (uid: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Demo sign-in</title></head>
<body style="font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem">
<h1>Demo identity provider</h1><p>Sign in to Stint as one of the demo users (no password: demo only).</p>
<form method="post" action="/interaction/${uid}/login">
${USERS.map((u, i) => `<p><label><input type="radio" name="email" value="${u}"${i === 0 ? ' checked' : ''}> ${u}</label></p>`).join('\n')}
<p><button type="submit">Sign in</button></p></form></body></html>`;

async function form(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

const callback = provider.callback();
createServer(async (req: IncomingMessage, res: ServerResponse) => {
  const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec(req.url ?? '');
  if (!m) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (!m[2]) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(details.uid));
      return;
    }
    const email = (await form(req)).get('email') ?? '';
    if (!USERS.includes(email)) {
      res.writeHead(400).end('unknown demo user');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: email, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
  } catch (e) {
    res.writeHead(400).end(String((e as Error).message));
  }
}).listen(port, '127.0.0.1', () => process.stdout.write(`demo identity provider on ${issuer}\n`));
