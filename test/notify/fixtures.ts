import { randomBytes } from 'node:crypto';
import { TEST_POLICY } from '../support/test-policy.js';

/**
 * Environment variable names unique to one test file, set on process.env (which the notify module reads its
 * channel secrets from, as a server does), so files running side by side never read each other's.
 */
export function envNames(prefix: string) {
  const tag = `${prefix}_${randomBytes(3).toString('hex')}`.toUpperCase();
  return {
    hookSecret: `NT_${tag}_HOOK_SECRET`,
    slackUrl: `NT_${tag}_SLACK_URL`,
    smtpPass: `NT_${tag}_SMTP_PASS`,
    pdKey: `NT_${tag}_PD_KEY`,
  };
}

/** The test policy with a `notifications:` block appended. */
export function withNotifications(block: string): string {
  return `${TEST_POLICY.trimEnd()}\nnotifications:\n${block
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;
}
