import { Webhook } from 'standardwebhooks';
import type { Channel } from './channel.js';
import { postJson } from './http-post.js';

/**
 * A generic webhook signed per Standard Webhooks: `webhook-id` is the delivery id (the de-duplication key),
 * `webhook-timestamp` the attempt's time in seconds, `webhook-signature` `v1,<base64 HMAC-SHA256 over
 * id.timestamp.body>` under the shared secret. The body is the NotificationMessage as JSON.
 */
export function webhookChannel(opts: {
  name: string;
  url: string;
  /** `whsec_` followed by the base64 key, as Standard Webhooks prints secrets. */
  secret: string;
  timeoutMs: number;
  concurrency: number;
  clock: () => Date;
}): Channel {
  const signer = new Webhook(opts.secret);
  return {
    name: opts.name,
    kind: 'webhook',
    timeoutMs: opts.timeoutMs,
    concurrency: opts.concurrency,
    secrets: [opts.secret, opts.secret.replace(/^whsec_/, '')],
    async send(message, signal) {
      const body = JSON.stringify(message);
      const at = opts.clock();
      const headers = {
        'webhook-id': message.deliveryId,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signer.sign(message.deliveryId, at, body),
      };
      await postJson(opts.url, body, headers, signal, opts.timeoutMs);
    },
  };
}

/** Standard Webhooks keys are 24 to 64 random bytes; a shorter one is a typo or a placeholder. */
export function webhookSecretProblem(secret: string): string | null {
  const b64 = secret.replace(/^whsec_/, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return 'is not a Standard Webhooks secret (whsec_ and base64)';
  const bytes = Buffer.from(b64, 'base64').length;
  if (bytes < 24 || bytes > 64) return `must be 24 to 64 bytes once base64-decoded (it is ${bytes})`;
  return null;
}
