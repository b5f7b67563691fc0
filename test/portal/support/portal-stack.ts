import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { generateNoteKey } from '../../../src/audit/log/signed-note.js';
import { startIdp, type TestIdp } from '../../identity/idp.js';
import { targetEnv } from '../../support/harness.js';
import { type ServerProcess, startServerProcess } from '../../support/server-process.js';
import { TEST_POLICY } from '../../support/test-policy.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of every page the tests visit (gitignored): what a reviewer looks at. */
export const ARTIFACTS = fileURLToPath(new URL('../../../artifacts/portal/', import.meta.url));
const AXE = readFileSync(
  fileURLToPath(new URL('../../../node_modules/axe-core/axe.min.js', import.meta.url)),
  'utf8',
);

/** A port nobody listens on now (the server is told it before it starts: the IdP needs the redirect URI). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

export interface Person {
  context: BrowserContext;
  page: Page;
  /** Console errors that are a policy violation (CSP) or an uncaught exception in the page. */
  problems: string[];
}

export interface PortalStack {
  /** http://localhost:<port>: WebAuthn needs a host name (browsers refuse an IP address as relying party). */
  url: string;
  idp: TestIdp;
  server: ServerProcess;
  browser: Browser;
  /** A fresh browser (its own cookies) for someone; the page opened at `path`, not yet signed in. */
  open(
    path: string,
    opts?: { timezoneId?: string; viewport?: { width: number; height: number } },
  ): Promise<Person>;
  /** Signs `email` in on `person`'s sign-in page: the button, the provider's login, back where they were. */
  signIn(person: Person, email: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The real thing, once per file: the test OpenID provider, a `stint server` process (SQLite store, the test
 * policy, the scram cluster's PostgreSQL as target) serving the built portal, and Debian's Chromium, headless.
 * `policy` replaces the test policy (its `deployment: stint-test` is made unique the same way); `env` adds to the
 * server's environment (e.g. the SSH proxy's listener and the ssh kind's CA).
 */
export async function startPortalStack(
  opts: { policy?: string; env?: Record<string, string> } = {},
): Promise<PortalStack> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-portal-'));
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const idp = await startIdp({ portalRedirectUri: `${url}/auth/callback` });
  const policyPath = join(dir, 'stint.yaml');
  writeFileSync(
    policyPath,
    (opts.policy ?? TEST_POLICY).replace(
      'deployment: stint-test',
      `deployment: portal-${randomBytes(4).toString('hex')}`,
    ),
  );
  let server: ServerProcess | undefined;
  let browser: Browser | undefined;
  try {
    server = await startServerProcess(
      [
        '--policy',
        policyPath,
        '--db',
        `sqlite:${join(dir, 'stint.db')}`,
        '--port',
        String(port),
        '--data-dir',
        dir,
      ],
      {
        ...targetEnv(),
        STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-portal-e2e').skey,
        STINT_LOG_LEVEL: 'warn',
        STINT_OIDC_ISSUER: idp.issuer,
        STINT_OIDC_ALLOW_INSECURE_ISSUER: '1',
        STINT_OIDC_CLIENT_ID: idp.portalClient.id,
        STINT_OIDC_CLIENT_SECRET: idp.portalClient.secret,
        STINT_OIDC_REDIRECT_URI: idp.portalClient.redirectUri,
        STINT_OIDC_CLI_CLIENT_ID: idp.cliClientId,
        STINT_WEBAUTHN_ORIGIN: url,
        // Several people sign in from one address within a minute.
        STINT_AUTH_RATE_LIMIT: '1000',
        ...opts.env,
      },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        // Root in a container has no user namespaces for Chromium's sandbox.
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
        // localhost is the server's 127.0.0.1, never ::1 where nothing listens.
        '--host-resolver-rules=MAP localhost 127.0.0.1',
      ],
    });
  } catch (e) {
    await server?.kill9();
    await idp.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const b = browser;
  const s = server;

  return {
    url,
    idp,
    server: s,
    browser: b,
    async open(path, opts = {}) {
      const context = await b.newContext({
        ...(opts.timezoneId ? { timezoneId: opts.timezoneId } : {}),
        viewport: opts.viewport ?? { width: 1280, height: 900 },
        locale: 'en-GB',
      });
      // A locator that never appears fails by name well within the test's own timeout.
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text()))
          problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
      page.on('dialog', (d) => void d.accept());
      await page.goto(`${url}${path}`);
      return { context, page, problems };
    },
    async signIn(person, email) {
      idp.nextLogin = { email, amr: ['pwd'] };
      const { page } = person;
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((u) => u.origin === url && !u.pathname.startsWith('/auth/'), { timeout: 15_000 });
      await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 15_000 });
    },
    async close() {
      await b.close().catch(() => undefined);
      await s.kill9();
      await idp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs axe-core in the page (evaluated, not a script tag: the page's policy forbids inline script). */
export async function axeCheck(page: Page, name: string): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    type Found = { id: string; impact: string; help: string; nodes: { target: string[] }[] };
    const g = globalThis as unknown as {
      axe: { run(ctx: unknown, o: object): Promise<{ violations: Found[] }> };
      document: unknown;
    };
    const result = await g.axe.run(g.document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      where: v.nodes.map((n) => n.target.join(' ')).slice(0, 3),
    }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${name}: ${v.impact} ${v.id} (${v.help}) at ${v.where.join(', ')}`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
