import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { policyFor } from '../recording/fixture.js';
import { waitFor } from '../support/pg-client.js';
import { type Login, type Sshd, sshRun, startSshd, userKey } from '../support/sshd.js';
import { ensurePortalBuilt } from './support/build-portal.js';
import { expectFitsPhone, PHONE } from './support/phone-width.js';
import {
  axeCheck,
  type Person,
  type PortalStack,
  screenshot,
  startPortalStack,
} from './support/portal-stack.js';

/** An API call from inside a signed-in page: its cookie session and its CSRF token, as the portal's own calls. */
async function inPage(page: Page, method: 'GET' | 'POST', path: string, body?: unknown) {
  return page.evaluate(
    async (a) => {
      const session = (await (await fetch('/auth/session')).json()) as { csrfToken: string };
      const res = await fetch(a.path, {
        method: a.method,
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        ...(a.method === 'POST' ? { body: JSON.stringify(a.body ?? {}) } : {}),
      });
      // biome-ignore lint/suspicious/noExplicitAny: the test reads answers field by field
      return { status: res.status, body: (await res.json()) as any };
    },
    { method, path, body },
  );
}

/**
 * The Sessions page end to end: a real `stint server` process with its SSH proxy and a real sshd behind it; sam
 * (security, and in the crew that may use the bastion) takes a certificate in his signed-in browser and runs a
 * command through the proxy with the system `ssh`; the session is incident-linked, so it is drawn for review.
 * Then dave (security) finds it in the queue, plays it in asciinema-player and gives the verdict; sam may not
 * review his own session; erin (auditor), on a page opened before dave's verdict, is told it was reviewed.
 */
describe('the session review queue and the player in Chromium, through the real proxy', {
  timeout: 90_000,
}, () => {
  let sshd: Sshd;
  let stack: PortalStack;
  let proxy: { port: number; hostKey: string };
  let sam: Person;
  let dave: Person;
  let erin: Person;
  let alice: Person;
  let sessionId = '';
  let recordingId = '';
  const a11y: string[] = [];
  const check = async (page: Page, name: string) => {
    a11y.push(...(await axeCheck(page, name)));
    await screenshot(page, name);
  };

  beforeAll(async () => {
    await ensurePortalBuilt();
    sshd = await startSshd({ principals: ['ops'] });
    stack = await startPortalStack({
      policy: policyFor(sshd, {}).replace('deployment: rec-test', 'deployment: stint-test'),
      env: {
        STINT_SSH_CA: sshd.userCaKey,
        STINT_SSH_PROXY_LISTEN: '127.0.0.1:0',
        STINT_SSH_PROXY_POLL_MS: '100',
      },
    });
    const line = await waitFor(async () =>
      /SSH proxy listening on 127\.0\.0\.1:(\d+) \(host key ([^)]+)\)/.exec(stack.server.output()),
    );
    proxy = { port: Number(line[1]), hostKey: line[2] as string };
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await sshd?.stop();
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [who, p] of Object.entries({ sam, dave, erin, alice })) {
      if (p)
        await screenshot(
          p.page,
          `sess-failed-${ctx.task.name.slice(0, 30).replace(/\W+/g, '-')}-${who}`,
        ).catch(() => undefined);
    }
  });

  it('sam runs a command through the proxy with the system ssh: a recorded session, drawn for review', async () => {
    sam = await stack.open('/sessions');
    await stack.signIn(sam, 'sam@example.com');
    const { page } = sam;
    await page.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor();
    // Nothing recorded yet: both lists say so.
    await page.getByText('No sessions here.').waitFor();
    await page.getByText('No sessions recorded yet.').waitFor();

    const asked = await inPage(page, 'POST', '/v1/requests', {
      resource: 'bastion',
      role: 'ops',
      reason: 'INC-4242 disk full on the bastion',
    });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    const requestId = asked.body.id as string;
    await waitFor(
      async () => (await inPage(page, 'GET', `/v1/requests/${requestId}`)).body.state === 'active',
    );
    const key = await userKey(sshd.dir);
    const taken = await inPage(page, 'POST', `/v1/requests/${requestId}/credentials`, {
      publicKey: key.publicKey,
    });
    expect(taken.status, JSON.stringify(taken.body)).toBe(200);
    const login: Login = {
      keyPath: key.path,
      certificate: taken.body.secret.certificate,
      knownHosts: `[127.0.0.1]:${proxy.port} ${proxy.hostKey}`,
      user: sshd.account,
      port: proxy.port,
    };
    // The shell computes the marker: what the player must show is the session's output, not its command line.
    const ran = await sshRun(login, ['echo stint-$((6*7))-session; echo done-$((40+2))'], ['-tt']);
    expect(ran.stdout, ran.stderr).toContain('stint-42-session');

    const sessions = await waitFor(async () => {
      const r = await inPage(page, 'GET', `/v1/recorded-sessions?request=${requestId}`);
      return r.body.sessions?.[0]?.endedAt ? r.body.sessions : null;
    });
    sessionId = sessions[0].id;
    const detail = await inPage(page, 'GET', `/v1/recorded-sessions/${sessionId}`);
    expect(detail.body.review).toMatchObject({
      state: 'queued',
      reasons: expect.arrayContaining(['incident']),
    });
    recordingId = detail.body.recordings[0].id;
  });

  it('dave (security) sees it in the queue, by due date, and in the sessions list', async () => {
    dave = await stack.open('/sessions');
    await stack.signIn(dave, 'dave@example.com');
    const { page } = dave;
    await page.getByRole('navigation', { name: 'Portal' }).getByRole('link', { name: 'Sessions' }).waitFor();
    const queue = page.getByRole('table', { name: 'Session review queue' });
    const row = queue.getByRole('row').filter({ hasText: sessionId });
    await row.waitFor();
    expect(await row.getByRole('cell').allTextContents()).toEqual(
      expect.arrayContaining([sessionId, 'sam', 'bastion', 'queued', '—']),
    );
    expect(await row.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    const listed = page.getByRole('table', { name: 'Recorded sessions, newest first' }).getByRole('row');
    await listed.filter({ hasText: sessionId }).waitFor();
    await check(page, 'sess-01-queue');
  });

  it('sam may not review his own session: the server’s SELF_APPROVAL is shown', async () => {
    const { page } = sam;
    await page.goto(`${stack.url}/sessions?id=${sessionId}`);
    await page.getByRole('heading', { name: `Session ${sessionId}` }).waitFor();
    const form = page.getByRole('form', { name: 'Give the verdict' });
    await form.getByRole('radio', { name: /^ok/ }).check();
    await form.getByRole('button', { name: 'Record verdict' }).click();
    const alert = form.getByRole('alert');
    await alert.getByText('SELF_APPROVAL').waitFor();
    expect(await alert.textContent()).toContain('may not review a session of their own');
    await check(page, 'sess-02-self-refused');
  });

  it('dave opens it: segments with their hashes, the player shows what was printed, his verdict completes it', async () => {
    // erin (auditor) opens the same session first, her browser's clock 8 days on (due in 7): overdue in the queue
    // and on the session; her page still offers the form after dave's verdict.
    erin = await stack.open('/sessions');
    await stack.signIn(erin, 'erin@example.com');
    await erin.page.clock.setFixedTime(new Date(Date.now() + 8 * 86_400_000));
    await erin.page.reload();
    const late = erin.page
      .getByRole('table', { name: 'Session review queue' })
      .getByRole('row')
      .filter({ hasText: sessionId });
    await late.getByText('overdue').waitFor();
    expect(await late.getAttribute('class')).toBe('overdue');
    await check(erin.page, 'sess-03-overdue');
    await late.getByRole('link', { name: sessionId }).click();
    await erin.page.getByRole('form', { name: 'Give the verdict' }).waitFor();
    await erin.page.getByRole('region', { name: 'Review' }).getByText('overdue').waitFor();

    const { page } = dave;
    await page.getByRole('link', { name: sessionId }).first().click();
    await page.getByRole('heading', { name: `Session ${sessionId}` }).waitFor();
    const segments = page.getByRole('table', { name: `Segments of ${recordingId}` }).getByRole('row');
    // The segments load after the heading; read them once the first has drawn.
    await segments.nth(1).getByRole('cell').first().waitFor();
    const cells = await segments.nth(1).getByRole('cell').allTextContents();
    expect(cells[0]).toBe('0');
    expect(cells[1]).toBe('sealed');
    expect(Number(cells[2])).toBeGreaterThan(0);
    expect(cells[3]).toMatch(/^[0-9a-f]{64}$/);
    expect(cells[4]).toBe('no');

    const player = page.getByRole('region', { name: `Player for ${recordingId}` });
    await player.locator('.ap-overlay-start').click();
    await expect
      .poll(() => player.locator('.ap-term-text').textContent(), { timeout: 15_000 })
      .toContain('stint-42-session');
    expect(await player.locator('.ap-term-text').textContent()).toContain('done-42');
    await check(page, 'sess-04-player');

    const form = page.getByRole('form', { name: 'Give the verdict' });
    await form.getByRole('radio', { name: /^concern/ }).check();
    await form.getByLabel('Notes').fill('Ran commands by hand during INC-4242; fine, but use the runbook.');
    await form.getByRole('button', { name: 'Record verdict' }).click();
    await page.getByRole('status').getByText(`Reviewed ${sessionId}: concern.`).waitFor();
    await form.waitFor({ state: 'detached' });
    await page.getByText('reviewed: concern').waitFor();
    await page.getByText('Ran commands by hand during INC-4242').waitFor();
    await check(page, 'sess-05-reviewed');

    await page.getByRole('link', { name: 'All sessions' }).click();
    await page.getByLabel('Show').selectOption('completed');
    const row = page.getByRole('table', { name: 'Session review queue' }).getByRole('row').filter({
      hasText: sessionId,
    });
    await row.getByText('reviewed: concern').waitFor();
    expect(await row.getByRole('cell').allTextContents()).toContain('dave');
    await check(page, 'sess-06-completed');
  });

  it('a second verdict is refused: erin sees ALREADY_REVIEWED', async () => {
    const form = erin.page.getByRole('form', { name: 'Give the verdict' });
    await form.getByRole('radio', { name: /^ok/ }).check();
    await form.getByRole('button', { name: 'Record verdict' }).click();
    await form.getByRole('alert').getByText('ALREADY_REVIEWED').waitFor();
    await check(erin.page, 'sess-07-already-reviewed');
  });

  it('both pages fit a phone: nothing scrolls sideways but the tables inside themselves', async () => {
    // Dave's session page shows his verdict; erin's still shows the form (the server refuses it, as above).
    for (const [who, path, name] of [
      [dave, '/sessions', 'sess-08-phone-list'],
      [dave, `/sessions?id=${sessionId}`, 'sess-09-phone-session'],
      [erin, `/sessions?id=${sessionId}`, 'sess-10-phone-verdict-form'],
    ] as const) {
      const phone = await who.context.newPage();
      await phone.setViewportSize(PHONE);
      await phone.goto(`${stack.url}${path}`);
      await phone.locator('main h1').waitFor();
      await phone.waitForLoadState('networkidle');
      await expectFitsPhone(phone, `${name}: ${path}`);
      await check(phone, name);
      await phone.close();
    }
  });

  it('alice (neither security nor auditor) has no Sessions entry, and the server refuses her the page’s data', async () => {
    alice = await stack.open('/sessions');
    await stack.signIn(alice, 'alice@example.com');
    const { page } = alice;
    const nav = page.getByRole('navigation', { name: 'Portal' });
    await nav.getByRole('link', { name: 'Approvals' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Sessions' }).count()).toBe(0);
    await page.getByRole('alert').first().getByText('FORBIDDEN').waitFor();
    expect(a11y).toEqual([]);
    for (const p of [sam, dave, erin, alice]) expect(p.problems).toEqual([]);
  });
});
