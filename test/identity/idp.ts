import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import Provider from 'oidc-provider';
import * as oidc from 'openid-client';

/**
 * A real OpenID provider (panva's oidc-provider) on 127.0.0.1:0 for the identity tests. Its login page signs in
 * whoever `nextLogin` names, with the `amr` given, so tests choose the person and whether a second factor was
 * used; consent is pre-granted. Its signing key is known to the tests, which forge tokens with it (expired,
 * wrong issuer, wrong audience) that differ from a good one in exactly one way.
 */
export interface TestIdp {
  issuer: string;
  portalClient: { id: string; secret: string; redirectUri: string };
  cliClientId: string;
  nextLogin: { email: string; amr: string[]; acr?: string };
  /**
   * Further claims the provider asserts about an account (keyed by its email), in every ID token it issues for
   * them from now on: `preferred_username`, `name`, `manager`, `groups`, or `email_verified` overridden.
   */
  accountClaims: Map<string, Record<string, unknown>>;
  signingKey: { privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']; kid: string };
  /** A browser: GETs with cookies, following the IdP's redirects, stopping at the first URL outside it. */
  browse(url: string): Promise<URL>;
  /** Forgets the browser's IdP cookies, so the next browse signs in afresh (as `nextLogin`). */
  newBrowser(): void;
  /** The person on another device: opens the verification URL, confirms the code, signs in as `nextLogin`. */
  confirmDevice(verificationUrl: string): Promise<void>;
  /** A real ID token for the CLI client, through the code flow with PKCE and the given nonce. */
  cliIdToken(nonce: string, email?: string): Promise<string>;
  /** A real ID token for the CLI client through the device flow (RFC 8628): no nonce, no jti. */
  deviceIdToken(email: string): Promise<string>;
  /**
   * A man in the middle of the token endpoint: while set, every ID token the provider issues there is passed
   * through it and the answer carries what it returns (the rest of the response untouched).
   */
  tamperIdToken: ((idToken: string) => Promise<string>) | null;
  /** A token signed with the provider's key, claims overridden as given. */
  forge(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/** `portalRedirectUri`: where the portal client is sent back (a server on another port; the portal's e2e). */
export async function startIdp(opts: { portalRedirectUri?: string } = {}): Promise<TestIdp> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `k-${randomBytes(4).toString('hex')}`;
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  void publicKey;

  let handler: (req: never, res: never) => void = () => undefined;
  const server: Server = createServer((req, res) => handler(req as never, res as never));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const portalClient = {
    id: 'stint-portal',
    secret: randomBytes(24).toString('base64url'),
    redirectUri: opts.portalRedirectUri ?? 'http://127.0.0.1:7070/auth/callback',
  };
  const cliClientId = 'stint-cli';
  const state: Pick<TestIdp, 'nextLogin' | 'tamperIdToken'> = {
    nextLogin: { email: 'alice@example.com', amr: ['pwd'] },
    tamperIdToken: null,
  };
  const accountClaims = new Map<string, Record<string, unknown>>();

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: portalClient.id,
        client_secret: portalClient.secret,
        redirect_uris: [portalClient.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
      {
        client_id: cliClientId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    // amr, acr and auth_time in every ID token, as Entra ID and Okta send them.
    // The directory claims ride on `openid` so the CLI's `openid email` tokens carry them too.
    claims: {
      sid: null,
      openid: ['sub', 'amr', 'acr', 'auth_time', 'preferred_username', 'name', 'manager', 'groups'],
      email: ['email', 'email_verified'],
    },
    // Put the email in the ID token itself, as most enterprise providers do.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, deviceFlow: { enabled: true } },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        claims: async () => ({ sub, email: sub, email_verified: true, ...accountClaims.get(sub) }),
      };
    },
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
  const callback = provider.callback();
  handler = async (req: never, res: never) => {
    const r = req as unknown as { url: string; method: string };
    const tamper = state.tamperIdToken;
    if (tamper && r.method === 'POST' && r.url.startsWith('/token')) rewriteIdToken(res, tamper);
    if (r.url.startsWith('/interaction/')) {
      const { nextLogin } = state;
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'consent') {
        // Native clients are always asked for consent: the person says yes.
        const grant = new provider.Grant({
          accountId: details.session?.accountId as string,
          clientId: details.params.client_id as string,
        });
        grant.addOIDCScope(String(details.params.scope));
        const grantId = await grant.save();
        await provider.interactionFinished(
          req,
          res,
          { consent: { grantId } },
          { mergeWithLastSubmission: true },
        );
        return;
      }
      await provider.interactionFinished(
        req,
        res,
        {
          login: {
            accountId: nextLogin.email,
            amr: nextLogin.amr,
            ...(nextLogin.acr ? { acr: nextLogin.acr } : {}),
          },
        },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    callback(req, res);
  };

  /** Holds back the provider's token response, swaps its id_token, then sends it with the right length. */
  function rewriteIdToken(response: never, tamper: (idToken: string) => Promise<string>) {
    const res = response as unknown as ServerResponse;
    const end = res.end.bind(res) as (body: string) => void;
    const chunks: Buffer[] = [];
    res.write = ((chunk: string | Buffer) => {
      chunks.push(Buffer.from(chunk));
      return true;
    }) as typeof res.write;
    res.end = ((chunk?: string | Buffer | (() => void)) => {
      if (chunk !== undefined && typeof chunk !== 'function') chunks.push(Buffer.from(chunk));
      void (async () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        if (typeof body.id_token === 'string') body.id_token = await tamper(body.id_token);
        const text = JSON.stringify(body);
        res.setHeader('content-length', Buffer.byteLength(text));
        end(text);
      })();
      return res;
    }) as typeof res.end;
  }

  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
  };

  async function browse(start: string): Promise<URL> {
    let url = new URL(start);
    for (let hops = 0; hops < 20; hops++) {
      if (url.origin !== issuer) return url;
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      keep(res);
      await res.arrayBuffer();
      const location = res.headers.get('location');
      if (!location) throw new Error(`the IdP answered ${res.status} at ${url.pathname} without a redirect`);
      url = new URL(location, url);
    }
    throw new Error('too many redirects at the IdP');
  }

  const idp: TestIdp = {
    issuer,
    portalClient,
    cliClientId,
    get nextLogin() {
      return state.nextLogin;
    },
    set nextLogin(v) {
      state.nextLogin = v;
    },
    get tamperIdToken() {
      return state.tamperIdToken;
    },
    set tamperIdToken(v) {
      state.tamperIdToken = v;
    },
    signingKey: { privateKey, kid },
    accountClaims,
    browse,
    newBrowser: () => jar.clear(),
    async confirmDevice(verificationUrl) {
      jar.clear();
      const send = async (url: URL, init: RequestInit = {}) => {
        const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
        const res = await fetch(url, {
          ...init,
          redirect: 'manual',
          headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) },
        });
        keep(res);
        return { res, text: await res.text() };
      };
      const page = new URL(verificationUrl);
      const { text } = await send(page);
      // The confirmation form: its hidden fields (xsrf, user code) plus "yes".
      const form = new URLSearchParams();
      for (const m of text.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
        form.set(m[1] as string, m[2] as string);
      }
      form.set('confirm', 'yes');
      const action = /<form[^>]*action="([^"]+)"/.exec(text)?.[1] ?? page.pathname;
      let { res } = await send(new URL(action, page), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      for (let hops = 0; hops < 20 && res.headers.get('location'); hops++) {
        ({ res } = await send(new URL(res.headers.get('location') as string, issuer)));
      }
      if (res.status !== 200) throw new Error(`device confirmation ended with ${res.status}`);
    },
    async cliIdToken(nonce, email) {
      if (email) state.nextLogin = { email, amr: ['pwd'] };
      jar.clear();
      const config = await oidc.discovery(new URL(issuer), cliClientId, undefined, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      });
      const verifier = oidc.randomPKCECodeVerifier();
      const redirect = 'http://127.0.0.1:53682/callback';
      const authUrl = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirect,
        scope: 'openid email',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        nonce,
      });
      const back = await browse(authUrl.href);
      const tokens = await oidc.authorizationCodeGrant(config, back, {
        pkceCodeVerifier: verifier,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      if (!tokens.id_token) throw new Error('no ID token');
      return tokens.id_token;
    },
    async deviceIdToken(email) {
      state.nextLogin = { email, amr: ['pwd'] };
      const config = await oidc.discovery(new URL(issuer), cliClientId, undefined, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      });
      const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' });
      await idp.confirmDevice(device.verification_uri_complete ?? device.verification_uri);
      // One poll, at once: the person has confirmed already, so the provider answers with the tokens.
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code: device.device_code,
          client_id: cliClientId,
        }).toString(),
      });
      const body = (await res.json()) as { id_token?: string };
      if (!body.id_token) throw new Error(`no ID token from the device flow: ${JSON.stringify(body)}`);
      return body.id_token;
    },
    async forge(claims, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: issuer,
        aud: cliClientId,
        sub: 'alice@example.com',
        email: 'alice@example.com',
        iat: now,
        exp: now + 600,
        ...claims,
      })
        .setProtectedHeader({ alg: 'RS256', kid, ...header })
        .sign(privateKey);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return idp;
}
