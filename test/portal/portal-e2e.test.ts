import pg from 'pg';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../support/step-up.js';
import { ensurePortalBuilt } from './support/build-portal.js';
import { expectFitsPhone, PHONE } from './support/phone-width.js';
import {
  axeCheck,
  type Person,
  type PortalStack,
  screenshot,
  startPortalStack,
} from './support/portal-stack.js';

const idOf = (page: Page) => new URL(page.url()).searchParams.get('id') as string;

/** Whether the credential logs in to the target right now. */
async function logsIn(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The portal end to end, as people use it: in Debian's Chromium (headless), against a `stint server` process
 * serving the built portal, signing in at a real OpenID provider. One browser and one server for the file; each
 * person has a browser context of their own. The story runs in order: each test continues the last.
 */
describe('the portal in Chromium, through the real server and a real OpenID provider', {
  timeout: 60_000,
}, () => {
  let stack: PortalStack;
  let alice: Person;
  let carol: Person;
  let sam: Person;
  let erin: Person;
  let adminRequest = '';
  let opsRequest = '';
  /** Serious and critical axe violations, page by page; asserted empty at the end of each test. */
  const a11y: string[] = [];
  const check = async (page: Page, name: string) => {
    a11y.push(...(await axeCheck(page, name)));
    await screenshot(page, name);
  };

  beforeAll(async () => {
    await ensurePortalBuilt();
    stack = await startPortalStack();
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });
  // A failed step leaves a picture of every open page beside the others.
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    const people = { alice, carol, sam, erin };
    for (const [who, p] of Object.entries(people)) {
      if (p)
        await screenshot(p.page, `failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}-${who}`).catch(
          () => undefined,
        );
    }
  });

  it('serves the portal under a strict policy: no inline script, nothing from elsewhere', async () => {
    const res = await fetch(`${stack.url.replace('localhost', '127.0.0.1')}/approvals`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
  });

  it('alice signs in from the request page and lands back on it', async () => {
    alice = await stack.open('/request', { timezoneId: 'Asia/Kolkata' });
    await alice.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await check(alice.page, '01-sign-in');
    await stack.signIn(alice, 'alice@example.com');
    expect(new URL(alice.page.url()).pathname).toBe('/request');
    await alice.page.getByRole('heading', { name: 'Ask for access' }).waitFor();
    expect(a11y).toEqual([]);
  });

  it('the form says which approval a request needs before it is sent, and the server’s refusals by code', async () => {
    const { page } = alice;
    await page.getByLabel('Find a resource').fill('staging');
    await page.getByLabel(/^staging-db/).check();
    await page.getByTestId('preview').getByText('Approved automatically').waitFor();
    await page.getByLabel('Find a resource').fill('prod-db');
    await page.getByLabel(/^prod-db/).check();
    await page.getByLabel('Role').selectOption('admin');
    await page.getByLabel('Reason or ticket').fill('not a ticket');
    // The server's own code and message, before anything is sent.
    await page.getByText('TICKET_MALFORMED').waitFor();
    await page.getByLabel('For how long').fill('9h');
    await page.getByLabel('Reason or ticket').fill('INC-4821');
    await page.getByText('DURATION_TOO_LONG').waitFor();
    await check(page, '02-request-refused');
    expect(a11y).toEqual([]);
  });

  it('alice asks for prod-db admin with the keyboard alone; the request is pending with its approvers', async () => {
    const { page } = alice;
    await page.goto(`${stack.url}/request`);
    const search = page.getByLabel('Find a resource');
    await search.focus();
    await page.keyboard.type('prod-db');
    await page.keyboard.press('Tab'); // to the one matching resource
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab'); // role: its first, admin
    await page.keyboard.press('Tab');
    await page.keyboard.type('INC-4821');
    await page.keyboard.press('Tab');
    await page.keyboard.type('2h');
    const preview = page.getByTestId('preview');
    await preview.getByText('manager approval — carol').waitFor();
    expect(await preview.textContent()).toContain('Approvers must verify a second factor');
    expect(await preview.textContent()).toContain('For 2h');
    await check(page, '03-request-ready');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/requests\?id=req_[0-9a-f]{16}$/);
    adminRequest = idOf(page);
    const card = page.locator(`#${adminRequest}`);
    await card.getByText('pending approval').waitFor();
    await card.getByText('Waiting for manager approval — carol').waitFor();
    // Times in the viewer's zone (this browser is in India).
    expect(await card.locator('time').first().textContent()).toMatch(/GMT\+5:30|IST/);
    await check(page, '04-my-requests-pending');
    expect(a11y).toEqual([]);
  });

  it('carol approves with a TOTP she sets up in the step-up; alice’s page turns active without a reload', async () => {
    await alice.page.evaluate(() => {
      (globalThis as unknown as { keptAcrossPolls: boolean }).keptAcrossPolls = true;
    });
    carol = await stack.open('/approvals');
    await stack.signIn(carol, 'carol@example.com');
    expect(new URL(carol.page.url()).pathname).toBe('/approvals');
    const card = carol.page.getByRole('article', { name: /alice asks for prod-db as admin/ });
    await card.waitFor();
    const text = await card.textContent();
    expect(text).toContain('INC-4821');
    expect(text).toContain('critical');
    expect(text).toContain('Who has actednobody yet');
    await card.getByRole('button', { name: 'Show history' }).click();
    await card
      .getByRole('list', { name: `History of ${adminRequest}` })
      .getByText('request.created')
      .waitFor();
    await check(carol.page, '05-approvals');

    // Critical: approving needs a fresh second factor, and carol has none. The step-up opens in the page.
    await card.getByRole('button', { name: 'Approve' }).click();
    const dialog = carol.page.getByRole('dialog', { name: 'Verify a second factor' });
    await dialog
      .getByText('MFA_REQUIRED', { exact: false })
      .or(dialog.getByText(/needs a second factor/))
      .first()
      .waitFor();
    await dialog.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secret = (await dialog.getByTestId('totp-secret').textContent()) as string;
    await check(carol.page, '06-step-up-totp');
    const now = new Date();
    await dialog.getByLabel('First code from your app, to confirm').fill(await totpCode(secret, now));
    await dialog.getByRole('button', { name: 'Confirm app' }).click();
    await dialog.getByLabel('Code from your app', { exact: true }).fill(await totpCode(secret, now, 1));
    await dialog.getByRole('button', { name: 'Verify code' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await carol.page.getByText(`Approved ${adminRequest}`).waitFor();

    // alice never reloaded: the poll brought the change.
    await alice.page
      .locator(`#${adminRequest}`)
      .getByText('active', { exact: true })
      .waitFor({ timeout: 15_000 });
    expect(
      await alice.page.evaluate(
        () => (globalThis as unknown as { keptAcrossPolls?: boolean }).keptAcrossPolls,
      ),
    ).toBe(true);
    expect(a11y).toEqual([]);
  });

  it('alice takes the credential once, it logs in, and "end now" removes it', async () => {
    const { page } = alice;
    const card = page.locator(`#${adminRequest}`);
    await card.getByText(/left$/).first().waitFor();
    await card.getByRole('button', { name: 'Show credential (once)' }).click();
    const shown = card.getByTestId('credential');
    await shown.waitFor();
    const url = (await shown.locator('dt:text-is("url") + dd').textContent()) as string;
    expect(url).toMatch(/^postgres(ql)?:\/\//);
    expect(await logsIn(url)).toBe(true);
    await check(page, '07-credential-once');

    // Shown once: a fresh page has no way to show it again.
    await page.reload();
    await card.getByText('The credential was shown once already.').waitFor();
    expect(await card.getByRole('button', { name: 'Show credential (once)' }).count()).toBe(0);

    await page.goto(`${stack.url}/grants`);
    await page.getByRole('cell', { name: adminRequest, exact: true }).waitFor();
    await check(page, '08-grants');

    await page.goto(`${stack.url}/requests?id=${adminRequest}`);
    await card.getByRole('button', { name: 'End now' }).click();
    await card.getByText('ended early').waitFor();
    await card.getByText(/on the target: done/).waitFor({ timeout: 15_000 });
    expect(await logsIn(url)).toBe(false);
    expect(a11y).toEqual([]);
  });

  it('sam approves with a security key registered in the step-up (virtual WebAuthn authenticator)', async () => {
    await alice.page.goto(`${stack.url}/request`);
    await alice.page.getByLabel('Find a resource').fill('prod-db');
    await alice.page.getByLabel(/^prod-db/).check();
    await alice.page.getByLabel('Role').selectOption('ops');
    await alice.page.getByLabel('Reason or ticket').fill('rotate the replica');
    await alice.page
      .getByTestId('preview')
      .getByText(/security reviewer approval — dave, sam/)
      .waitFor();
    await alice.page.getByRole('button', { name: 'Send request' }).click();
    await alice.page.waitForURL(/\/requests\?id=req_/);
    opsRequest = idOf(alice.page);

    sam = await stack.open('/approvals');
    const cdp = await sam.context.newCDPSession(sam.page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'usb',
        hasResidentKey: false,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await stack.signIn(sam, 'sam@example.com');
    const card = sam.page.getByRole('article', { name: /alice asks for prod-db as ops/ });
    expect(await card.textContent()).toContain('Who else may approvedave');
    await card.getByRole('button', { name: 'Approve' }).click();
    const dialog = sam.page.getByRole('dialog', { name: 'Verify a second factor' });
    await dialog.getByRole('button', { name: 'Register a security key' }).click();
    await dialog.getByText('1 registered.').waitFor();
    await check(sam.page, '09-step-up-webauthn');
    await dialog.getByRole('button', { name: 'Use security key' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await sam.page.getByText(`Approved ${opsRequest}`).waitFor();
    // The key in the browser made one credential and signed with it: registration, then the step-up.
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]?.signCount).toBeGreaterThanOrEqual(1);
    await alice.page
      .locator(`#${opsRequest}`)
      .getByText('active', { exact: true })
      .waitFor({ timeout: 15_000 });
    expect(a11y).toEqual([]);
  });

  it('a forged or missing CSRF header changes nothing', async () => {
    const outcome = await alice.page.evaluate(async () => {
      const mine = async () =>
        ((await (await fetch('/v1/requests?scope=mine&limit=500')).json()) as { requests: unknown[] })
          .requests.length;
      const before = await mine();
      const body = JSON.stringify({ resource: 'staging-db', role: 'read', reason: 'csrf probe' });
      const send = async (headers: Record<string, string>) => {
        const res = await fetch('/v1/requests', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        });
        return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
      };
      const missing = await send({});
      const forged = await send({ 'x-csrf-token': 'forged-by-another-site' });
      return { missing, forged, before, after: await mine() };
    });
    expect(outcome.missing).toEqual({ status: 403, code: 'CSRF_TOKEN_INVALID' });
    expect(outcome.forged).toEqual({ status: 403, code: 'CSRF_TOKEN_INVALID' });
    expect(outcome.after).toBe(outcome.before);
  });

  it('an expired session lands on sign-in and comes back to the same page', async () => {
    const { page, context } = alice;
    await page.goto(`${stack.url}/requests?id=${opsRequest}`);
    await page.locator(`#${opsRequest}`).waitFor();
    // The session ends behind the page's back (as at its expiry): revoked at the server.
    const cookie = (await context.cookies()).find((c) => c.name === 'stint_session')?.value as string;
    const origin = stack.url.replace('localhost', '127.0.0.1');
    const session = (await (
      await fetch(`${origin}/auth/session`, { headers: { cookie: `stint_session=${cookie}` } })
    ).json()) as {
      csrfToken: string;
    };
    const out = await fetch(`${origin}/auth/logout`, {
      method: 'POST',
      headers: { cookie: `stint_session=${cookie}`, 'x-csrf-token': session.csrfToken },
    });
    expect(out.status).toBe(204);
    // The next poll is refused: the page says so and offers sign-in.
    await page.getByText('Your session has ended').waitFor({ timeout: 10_000 });
    await check(page, '10-session-ended');
    await stack.signIn(alice, 'alice@example.com');
    const back = new URL(page.url());
    expect(`${back.pathname}${back.search}`).toBe(`/requests?id=${opsRequest}`);
    await page.locator(`#${opsRequest}`).waitFor();
    expect(a11y).toEqual([]);
  });

  it('erin browses the audit trail a page at a time and proves events in the browser', async () => {
    erin = await stack.open(`/audit?request=${adminRequest}`);
    await stack.signIn(erin, 'erin@example.com');
    const { page } = erin;
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    const first = page.getByRole('row').nth(1);
    await first.getByRole('cell', { name: 'request.created' }).waitFor();
    const seq = Number(await first.getByRole('cell').first().textContent());
    await first.getByRole('button', { name: `Verify event ${seq}` }).click();
    const verdict = page.getByTestId(`verdict-${seq}`);
    await verdict.getByText(`Event ${seq} is in the signed log`).waitFor();
    const lines = await verdict.getByRole('listitem').allTextContents();
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line.startsWith('✓')).toBe(true);
    await check(page, '11-audit-verified');

    // The check is the browser's own: a proof altered on the way fails it.
    await page.route('**/v1/audit/proof/inclusion**', async (route) => {
      const res = await route.fetch();
      const proof = (await res.json()) as { proof: string[] };
      proof.proof[0] = Buffer.alloc(32).toString('base64');
      await route.fulfill({ response: res, json: proof });
    });
    const second = page.getByRole('row').nth(2);
    const seq2 = Number(await second.getByRole('cell').first().textContent());
    await second.getByRole('button', { name: `Verify event ${seq2}` }).click();
    await page.getByTestId(`verdict-${seq2}`).getByText(`Event ${seq2} could not be proved`).waitFor();
    await page.unroute('**/v1/audit/proof/inclusion**');

    // More than a page of trail: alice asks for routine access six times (approved at once) and ends each.
    const made = await alice.page.evaluate(async () => {
      const { csrfToken } = (await (await fetch('/auth/session')).json()) as { csrfToken: string };
      const post = (path: string, body: object) =>
        fetch(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
          body: JSON.stringify(body),
        });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = (await (
          await post('/v1/requests', { resource: 'staging-db', role: 'read', reason: `page ${i}` })
        ).json()) as {
          id: string;
        };
        ids.push(r.id);
        await post(`/v1/requests/${r.id}/revoke`, {});
      }
      return ids;
    });
    expect(made).toHaveLength(6);

    // The whole trail, 25 events a page, by sequence number.
    await page.goto(`${stack.url}/audit`);
    const seqs = async () =>
      (await page.locator('tbody tr td:first-child').allTextContents()).map((s) => Number(s));
    await page.locator('tbody tr').first().waitFor();
    const one = await seqs();
    expect(one).toHaveLength(25);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Page 2').waitFor();
    const firstSeq = async () => Number(await page.locator('tbody tr td').first().textContent());
    await expect.poll(firstSeq).toBeGreaterThan(one.at(-1) as number);
    const two = await seqs();
    expect(Math.min(...two)).toBeGreaterThan(Math.max(...one));
    await page.getByRole('button', { name: 'Previous' }).click();
    await expect.poll(firstSeq).toBe(one[0]);
    expect(a11y).toEqual([]);
  });

  it('every other page passes axe and reads at phone width', async () => {
    await erin.page.goto(`${stack.url}/operations`);
    await erin.page.getByText(/Median .* over \d+ approvals/).waitFor();
    await check(erin.page, '12-operations');
    await carol.page.goto(`${stack.url}/factors`);
    await carol.page.getByLabel('Code from your app', { exact: true }).waitFor();
    await check(carol.page, '13-factors');
    await alice.page.goto(`${stack.url}/`);
    await alice.page.getByRole('heading', { name: 'Hello, Alice' }).waitFor();
    await check(alice.page, '14-home');

    const phone = await alice.context.newPage();
    await phone.setViewportSize(PHONE);
    for (const path of [
      '/',
      '/request',
      '/requests',
      '/approvals',
      '/grants',
      '/audit',
      '/factors',
      '/operations',
    ]) {
      await phone.goto(`${stack.url}${path}`);
      await phone.locator('main h1').waitFor();
      await phone.waitForLoadState('networkidle');
      await expectFitsPhone(phone, path);
      await check(phone, `phone${path === '/' ? '-home' : path.replace('/', '-')}`);
    }
    expect(a11y).toEqual([]);
    for (const p of [alice, carol, sam, erin]) expect(p.problems).toEqual([]);
  });
});
