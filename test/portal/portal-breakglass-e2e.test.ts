import pg from 'pg';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BREAKGLASS_POLICY } from '../breakglass/support.js';
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
 * Break-glass and its postmortem in the portal, end to end: Debian's Chromium against a `stint server` process
 * whose policy has `breakglass:` entries (a file of its own: the main e2e's policy has none, and its story would
 * see the extra holder). alice may break glass on prod-db; its postmortems are owned by sam (security).
 */
describe('break-glass and postmortems in Chromium, through the real server', { timeout: 60_000 }, () => {
  let stack: PortalStack;
  let alice: Person;
  let sam: Person;
  let requestId = '';
  let postmortemId = '';
  const a11y: string[] = [];
  const check = async (page: Page, name: string) => {
    a11y.push(...(await axeCheck(page, name)));
    await screenshot(page, name);
  };

  beforeAll(async () => {
    await ensurePortalBuilt();
    stack = await startPortalStack({ policy: BREAKGLASS_POLICY });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [who, p] of Object.entries({ alice, sam })) {
      if (p)
        await screenshot(p.page, `bg-failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}-${who}`).catch(
          () => undefined,
        );
    }
  });

  it('alice breaks glass from the page with a TOTP step-up, takes the credential once and holds prod-db', async () => {
    alice = await stack.open('/breakglass', { timezoneId: 'America/New_York' });
    await stack.signIn(alice, 'alice@example.com');
    const { page } = alice;
    await page.getByRole('heading', { name: 'Break-glass', level: 1 }).waitFor();
    await page.getByText('You hold no break-glass access.').waitFor();
    await check(page, 'bg-01-breakglass');

    const form = page.getByRole('form', { name: 'Break glass' });
    await form.getByLabel('Resource').selectOption('prod-db');
    await form.getByLabel('Role').selectOption('admin');
    await form.getByLabel('Reason (the incident)').fill('INC-7 primary down');
    await form.getByLabel(/For how long/).fill('15m');
    await form.getByRole('button', { name: 'Break glass' }).click();

    // A fresh second factor is needed and alice has none: the step-up opens in the page.
    const dialog = page.getByRole('dialog', { name: 'Verify a second factor' });
    await dialog.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secret = (await dialog.getByTestId('totp-secret').textContent()) as string;
    const now = new Date();
    await dialog.getByLabel('First code from your app, to confirm').fill(await totpCode(secret, now));
    await dialog.getByRole('button', { name: 'Confirm app' }).click();
    await dialog.getByLabel('Code from your app', { exact: true }).fill(await totpCode(secret, now, 1));
    await dialog.getByRole('button', { name: 'Verify code' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const done = form.getByText(/^Broke glass on prod-db as admin \(req_[0-9a-f]{16}\)/);
    await done.waitFor();
    requestId = /req_[0-9a-f]{16}/.exec((await done.textContent()) as string)?.[0] as string;
    expect(await done.textContent()).toContain('security-pager, security-chat');

    // Who holds what: alice, on prod-db, alerted and not yet acknowledged.
    const row = page.getByRole('table', { name: 'Break-glass holders' }).getByRole('row').nth(1);
    expect(await row.getByRole('cell').allTextContents()).toEqual(
      expect.arrayContaining(['prod-db', 'alice', 'admin', 'active', 'alerted, not yet acknowledged']),
    );
    // Times in the viewer's zone.
    expect(await row.locator('time').textContent()).toMatch(/GMT-[45]|EST|EDT/);

    const card = page.locator(`#${requestId}`);
    await card.getByText('active', { exact: true }).waitFor();
    await card.getByRole('button', { name: 'Show credential (once)' }).click();
    const url = (await card
      .getByTestId('credential')
      .locator('dt:text-is("url") + dd')
      .textContent()) as string;
    expect(await logsIn(url)).toBe(true);
    await check(page, 'bg-02-held-credential');

    // One holder per resource: a second invocation is refused by code, with the server's message.
    await form.getByLabel('Reason (the incident)').fill('INC-8 again');
    await form.getByRole('button', { name: 'Break glass' }).click();
    await form.getByRole('alert').getByText('BREAKGLASS_HELD').waitFor();
    expect(await form.getByRole('alert').textContent()).toContain('(409)');
    await check(page, 'bg-03-held-refused');

    // End now: the credential stops working.
    await card.getByRole('button', { name: 'End now' }).click();
    await card.getByText(/on the target: done/).waitFor({ timeout: 15_000 });
    expect(await logsIn(url)).toBe(false);
    expect(a11y).toEqual([]);
  });

  it('the postmortem follows: alice reads it and may not change it; sam fills it in and closes it', async () => {
    const { page } = alice;
    // The after-use sweep (every 2 s) releases the resource and opens the postmortem.
    await page.goto(`${stack.url}/postmortems`);
    const link = page.getByRole('link', { name: /^pm_[0-9a-f]{16}$/ });
    await expect
      .poll(
        async () => {
          await page.reload();
          await page.getByRole('heading', { name: 'Postmortems' }).waitFor();
          await page.waitForLoadState('networkidle');
          return link.count();
        },
        { timeout: 20_000, interval: 1000 },
      )
      .toBe(1);
    postmortemId = (await link.textContent()) as string;
    const row = page.getByRole('row').nth(1);
    expect(await row.getByRole('cell').allTextContents()).toEqual(
      expect.arrayContaining(['prod-db', 'sam', 'open']),
    );
    await check(page, 'bg-04-postmortems');

    await link.click();
    await page.getByRole('heading', { name: `Postmortem ${postmortemId}` }).waitFor();
    const timeline = page.getByRole('list', { name: `Timeline of ${postmortemId}` });
    await timeline.getByText('breakglass.invoked').waitFor();
    expect(await timeline.textContent()).toContain('grant.revoked by alice');
    await page.getByLabel('emergency').check();
    await page.getByLabel('Root cause').fill('the primary ran out of disk');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').getByText('FORBIDDEN').waitFor();
    await check(page, 'bg-05-postmortem-forbidden');

    sam = await stack.open(`/postmortems?id=${postmortemId}`);
    await stack.signIn(sam, 'sam@example.com');
    const p = sam.page;
    await p.getByRole('heading', { name: `Postmortem ${postmortemId}` }).waitFor();
    // Closing before it has a classification and a root cause is refused, by code.
    await p.getByRole('button', { name: 'Close postmortem' }).click();
    const refusal = p.getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/^[A-Z_]+ \(4\d\d\): /);

    // With the keyboard: the classification's radios, the root cause, the follow-ups, owner, due, then Save.
    await p.getByLabel('emergency').focus();
    await p.keyboard.press('Space');
    await p.keyboard.press('Tab');
    await p.keyboard.type('the primary ran out of disk');
    await p.keyboard.press('Tab');
    await p.keyboard.type('alert on disk at 80%');
    await p.keyboard.press('Enter');
    await p.keyboard.type('drill the failover');
    await p.keyboard.press('Tab'); // owner: stays sam
    await p.keyboard.press('Tab'); // due: unchanged
    await p.keyboard.press('Tab');
    await p.keyboard.press('Enter');
    await p.getByRole('status').getByText('Saved.').waitFor();
    const facts = p.locator('dl.facts');
    await facts.getByText('the primary ran out of disk').waitFor();
    await facts.getByRole('listitem').getByText('drill the failover').waitFor();
    await check(p, 'bg-06-postmortem-filled');

    await p.getByRole('button', { name: 'Close postmortem' }).click();
    // Closed, the record shows who closed it and when, and the form is gone.
    await p.getByRole('status').getByText('Closed.').waitFor();
    await facts.getByText(/closed .* by sam/).waitFor();
    expect(await p.getByRole('button', { name: 'Close postmortem' }).count()).toBe(0);
    await check(p, 'bg-07-postmortem-closed');

    // The list marks it closed.
    await p.goto(`${stack.url}/postmortems`);
    await p.getByLabel('Show').selectOption('closed');
    await p.getByRole('row').nth(1).getByText('closed', { exact: true }).waitFor();
    expect(a11y).toEqual([]);
  });

  it('both pages read at phone width, and the resource is free again', async () => {
    const phone = await sam.context.newPage();
    await phone.setViewportSize(PHONE);
    for (const path of ['/breakglass', '/postmortems', `/postmortems?id=${postmortemId}`]) {
      await phone.goto(`${stack.url}${path}`);
      await phone.locator('main h1').waitFor();
      await phone.waitForLoadState('networkidle');
      await expectFitsPhone(phone, path);
      await check(phone, `bg-phone${path.replace(/[/?=]/g, '-')}`);
    }
    // Released by the after-use sweep: nobody holds it now.
    await phone.goto(`${stack.url}/breakglass`);
    await phone.getByText('Nobody holds break-glass access.').waitFor();
    expect(a11y).toEqual([]);
    for (const p of [alice, sam]) expect(p.problems).toEqual([]);
  });
});
