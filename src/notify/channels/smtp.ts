import type { Transporter } from 'nodemailer';
import type { SmtpChannelSpec } from '../../policy/notifications-types.js';
import { type NotificationMessage, plainText } from '../message.js';
import { type Channel, DeliveryFailure } from './channel.js';

/** What nodemailer's errors carry that says why, without the message it was sending. */
function smtpFailure(e: unknown, timeoutMs: number): DeliveryFailure {
  const err = e as { code?: unknown; responseCode?: unknown; response?: unknown; command?: unknown };
  if (err.code === 'ETIMEDOUT')
    return new DeliveryFailure(`no answer within ${Math.round(timeoutMs / 1000)}s`);
  const parts = ['SMTP'];
  if (typeof err.code === 'string') parts.push(err.code);
  if (typeof err.responseCode === 'number') parts.push(String(err.responseCode));
  // The server's own reply line ("550 5.1.1 mailbox unavailable"), cut short; never the message's text.
  if (typeof err.response === 'string') parts.push(err.response.replace(/\s+/g, ' ').slice(0, 160));
  else if (typeof err.code === 'string' && err.code === 'ECONNECTION') parts.push('connection failed');
  return new DeliveryFailure(parts.join(' '));
}

/**
 * E-mail through an SMTP relay (nodemailer), one connection per message. Recipients are the e-mail addresses
 * of the people the delivery is for, plus the channel's fixed `to`. The Message-ID is built from the delivery
 * id, so a repeat of the same delivery is the same message to any mail system that de-duplicates.
 */
export function smtpChannel(spec: SmtpChannelSpec, password: string | null): Channel {
  const timeoutMs = spec.timeoutSeconds * 1000;
  const options = {
    host: spec.host,
    port: spec.port,
    secure: spec.security === 'tls',
    requireTLS: spec.security === 'starttls',
    ignoreTLS: spec.security === 'none',
    ...(spec.auth && password !== null ? { auth: { user: spec.auth.user, pass: password } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  };
  // nodemailer is loaded at the first message, not at start: it is ~5 MB of heap that a server with no SMTP
  // delivery (or none yet) does not need. A failed load is tried again at the next message.
  let transport: Promise<Transporter> | undefined;
  const loadTransport = (): Promise<Transporter> => {
    transport ??= import('nodemailer').then(
      (m) => m.default.createTransport(options),
      (err: unknown) => {
        transport = undefined;
        throw err;
      },
    );
    return transport;
  };
  const domain = spec.from.split('@')[1] ?? 'stint.invalid';
  return {
    name: spec.name,
    kind: 'smtp',
    timeoutMs,
    concurrency: spec.concurrency,
    secrets: password === null ? [] : [password],
    async send(message: NotificationMessage, signal: AbortSignal) {
      const to = [
        ...new Set([
          ...message.recipients.map((r) => r.email).filter((e): e is string => e !== null),
          ...spec.to,
        ]),
      ];
      if (to.length === 0)
        throw new DeliveryFailure('nobody to write to: no recipient has an e-mail address');
      const sending = loadTransport().then((t) =>
        t.sendMail({
          from: spec.from,
          to,
          subject: `[Stint] ${message.summary}`.slice(0, 200),
          text: plainText(message),
          messageId: `<${message.deliveryId}@${domain}>`,
          headers: {
            'X-Stint-Delivery-Id': message.deliveryId,
            'X-Stint-Event': `${message.event.action} #${message.event.seq}`,
          },
        }),
      );
      const aborted = new Promise<never>((_, reject) => {
        const stop = () => reject(new DeliveryFailure(`no answer within ${Math.round(timeoutMs / 1000)}s`));
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      });
      try {
        await Promise.race([sending, aborted]);
      } catch (e) {
        // A rejection from the race that lost must not surface as unhandled.
        sending.catch(() => undefined);
        throw e instanceof DeliveryFailure ? e : smtpFailure(e, timeoutMs);
      }
    },
  };
}
