import type { Harness } from '../support/harness.js';
import { stepUp, totpCode } from '../support/step-up.js';
import { TEST_POLICY } from '../support/test-policy.js';

/**
 * The workflow tests' policy with a break-glass block: the payments team (and sam) may break glass on prod-db,
 * bob on staging-db; carol, erin, root and mallory may not.
 */
export const BREAKGLASS_POLICY = `${TEST_POLICY}
breakglass:
  - id: prod-emergency
    resources: [prod-db]
    roles: [admin, read]
    who: { teams: [payments], users: [sam] }
    maxDuration: 30m
    channels: [security-pager, security-chat]
    escalateAfter: 10m
    postmortem: { owner: sam, due: 3d }
  - id: staging-emergency
    resources: [staging-db]
    roles: ['*']
    who: { users: [bob] }
    maxDuration: 1h
    channels: [security-pager]
`;

/** Audit events of one action, oldest first, read from the store as the notifier reads them. */
export async function eventsOf(h: Harness, action: string) {
  const rows = await h.testStore.store.db
    .selectFrom('audit_events')
    .select(['seq', 'body'])
    .where('action', '=', action)
    .orderBy('seq')
    .execute();
  return rows.map((r) => {
    // biome-ignore lint/suspicious/noExplicitAny: events are read field by field
    const body = JSON.parse(r.body as string) as any;
    return { seq: Number(r.seq), ...body };
  });
}

/** What the notifier writes when a receiver acknowledged the event at `eventSeq` on `channel`. */
export async function acknowledge(h: Harness, eventSeq: number, channel: string, by = 'pager-oncall') {
  await h.stint.audit.writer.append(h.testStore.store.db, {
    at: h.stint.deps.clock(),
    actor: 'stint',
    action: 'notification.acknowledged',
    requestId: null,
    details: { eventSeq, channel, by },
  });
}

/** A clock tests move by hand. */
export function manualClock(start = Date.now()) {
  let now = start;
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}

/**
 * Steps `user` up again with the TOTP secret their enrolment answered, at the application's clock: after a test
 * moved the clock past the step-up's 15 minutes, as the person would before breaking glass again.
 */
export async function stepUpAgain(h: Harness, user: string, secret: string): Promise<void> {
  const token = h.tokens[user] as string;
  const id = /^stint_([A-Za-z0-9_-]{16})\./.exec(token)?.[1] as string;
  const directory = h.stint.deps.policy.current().users.get(user);
  if (!directory) throw new Error(`no user ${user}`);
  const code = await totpCode(secret, h.stint.deps.clock());
  await h.stint.mfa.service.verify(
    {
      userId: user,
      security: directory.security,
      admin: directory.admin,
      auditor: directory.auditor,
      credential: { kind: 'api-token', id, scopes: null },
      source: { ip: '127.0.0.1', userAgent: 'test' },
    },
    { method: 'totp', code },
  );
}

/** Steps each user up at the start, answering their TOTP secrets (for `stepUpAgain`). */
export async function stepUpAll(h: Harness, users: readonly string[]): Promise<Record<string, string>> {
  const secrets: Record<string, string> = {};
  for (const user of users) secrets[user] = await stepUp(h.stint, user, h.tokens[user] as string);
  return secrets;
}
