import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import * as oidc from 'openid-client';
import { CliError } from '../cli-error.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createHttpClient, DEFAULT_URL } from '../http-client.js';
import { storeToken, tokenFilePath } from '../token-file.js';

export interface LoginDeps {
  /** Shows the sign-in page to the person; the URL is printed as well, in case no browser opens. */
  openBrowser(url: string): Promise<void> | void;
  /** How long to wait for the person to finish signing in. */
  timeoutMs?: number;
}

const LOOPBACKS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export const defaultLoginDeps: LoginDeps = {
  openBrowser(url) {
    const cmd =
      process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    try {
      // No shell: the URL is one argument, never interpreted.
      spawn(cmd, [url], { stdio: 'ignore', detached: true })
        .on('error', () => undefined)
        .unref();
    } catch {
      // The URL is printed; the person opens it.
    }
  },
};

/**
 * `stint login [--device]`: signs in at the company's provider (loopback redirect with PKCE, or the device flow
 * on a machine without a browser), exchanges the ID token at Stint for a short-lived session token, and keeps
 * it in ~/.config/stint/token (0600), which the CLI uses when STINT_TOKEN is not set.
 */
export function registerLogin(program: Command, ctx: CliContext, deps: LoginDeps = defaultLoginDeps): void {
  program
    .command('login')
    .description('sign in with your company account; keeps a short-lived token for the CLI')
    .option('--device', 'sign in on another device (for machines without a browser)')
    .action(async (flags: { device?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const fetchImpl = ctx.io.fetch ?? globalThis.fetch;
      const stint = createHttpClient({
        baseUrl: g.url ?? ctx.io.env.STINT_URL ?? DEFAULT_URL,
        token: undefined,
        fetch: fetchImpl,
      });
      const path = tokenFilePath(ctx.io.env);
      if (!path)
        throw new CliError(
          'USAGE',
          'no HOME or XDG_CONFIG_HOME to keep the token in (or set STINT_TOKEN_FILE)',
        );

      const where = await stint.get<{ issuer: string; clientId: string; scopes: string }>('/v1/auth/config');
      const issuer = new URL(where.issuer);
      const config = await oidc
        .discovery(issuer, where.clientId, undefined, oidc.None(), {
          ...(issuer.protocol === 'http:' && LOOPBACKS.has(issuer.hostname)
            ? { execute: [oidc.allowInsecureRequests] }
            : {}),
          [oidc.customFetch]: fetchImpl,
        })
        .catch((e: unknown) => {
          throw new CliError(
            'IDP_ERROR',
            `cannot reach the identity provider ${issuer.origin}: ${(e as Error).message}`,
          );
        });
      const nonce = oidc.randomNonce();
      const show = (text: string) => out.note(text);
      const signedIn = flags.device
        ? await deviceFlow(config, where.scopes, nonce, show)
        : await loopbackFlow(config, where.scopes, nonce, show, deps);

      const session = await stint.post<{ token: string; userId: string; expiresAt: string }>(
        '/v1/auth/token',
        // Without a nonce (device flow) the server accepts the token once, by itself.
        signedIn.nonce === null
          ? { id_token: signedIn.idToken }
          : { id_token: signedIn.idToken, nonce: signedIn.nonce },
      );
      storeToken(path, session.token);
      out.result({ userId: session.userId, expiresAt: session.expiresAt, tokenFile: path }, () => {
        out.fields([
          ['signed in as', session.userId],
          ['until', out.when(session.expiresAt)],
          ['token kept in', path],
        ]);
      });
    });
}

async function loopbackFlow(
  config: oidc.Configuration,
  scope: string,
  nonce: string,
  show: (text: string) => void,
  deps: LoginDeps,
): Promise<{ idToken: string; nonce: string | null }> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  let resolveCode!: (url: URL) => void;
  let rejectCode!: (e: Error) => void;
  const received = new Promise<URL>((res, rej) => {
    resolveCode = res;
    rejectCode = rej;
  });
  // RFC 8252: a one-shot listener on the loopback address at a port the system picks.
  let redirectUri = '';
  const server: Server = createServer((req, res) => {
    // Rebuilt on the exact redirect URI (port included): the provider compares it at the code exchange.
    const url = new URL(req.url ?? '/', redirectUri);
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    const ok = url.searchParams.get('state') === state && !url.searchParams.has('error');
    res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(
      ok
        ? 'Signed in to Stint. You can close this window.\n'
        : 'Stint sign-in failed: go back to the terminal.\n',
    );
    if (ok) resolveCode(url);
    else
      rejectCode(
        new CliError(
          'LOGIN_STATE_INVALID',
          `sign-in refused or state mismatch (${url.searchParams.get('error') ?? 'state'})`,
        ),
      );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const timer = setTimeout(
    () => rejectCode(new CliError('TIMEOUT', 'no sign-in within 5 minutes')),
    deps.timeoutMs ?? 300_000,
  );
  try {
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    show(`Opening your browser to sign in. If it does not open, visit:\n  ${url.href}`);
    await deps.openBrowser(url.href);
    const back = await received;
    const tokens = await oidc
      .authorizationCodeGrant(config, back, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      })
      .catch((e: unknown) => {
        throw new CliError(
          'UNAUTHENTICATED',
          `the identity provider refused the sign-in: ${(e as Error).message}`,
        );
      });
    if (!tokens.id_token) throw new CliError('UNAUTHENTICATED', 'the identity provider sent no ID token');
    return { idToken: tokens.id_token, nonce };
  } finally {
    clearTimeout(timer);
    server.closeAllConnections();
    server.close();
  }
}

async function deviceFlow(
  config: oidc.Configuration,
  scope: string,
  nonce: string,
  show: (text: string) => void,
): Promise<{ idToken: string; nonce: string | null }> {
  const device = await oidc.initiateDeviceAuthorization(config, { scope, nonce }).catch((e: unknown) => {
    throw new CliError(
      'IDP_ERROR',
      `the identity provider did not start a device sign-in: ${(e as Error).message}`,
    );
  });
  show(
    `To sign in, visit ${device.verification_uri_complete ?? device.verification_uri} and enter the code ${device.user_code}`,
  );
  const tokens = await oidc.pollDeviceAuthorizationGrant(config, device).catch((e: unknown) => {
    throw new CliError('UNAUTHENTICATED', `device sign-in failed: ${(e as Error).message}`);
  });
  if (!tokens.id_token) throw new CliError('UNAUTHENTICATED', 'the identity provider sent no ID token');
  // RFC 8628 carries no nonce; a provider that echoes ours anyway must echo it unchanged.
  const echoed = tokens.claims()?.nonce;
  if (echoed !== undefined && echoed !== nonce) {
    throw new CliError('NONCE_MISMATCH', 'the ID token carries another nonce');
  }
  return { idToken: tokens.id_token, nonce: echoed === undefined ? null : nonce };
}
