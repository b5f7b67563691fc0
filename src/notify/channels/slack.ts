import { type NotificationMessage, plainText } from '../message.js';
import type { Channel } from './channel.js';
import { postJson } from './http-post.js';

/** Slack's mrkdwn: &, < and > are the only characters it wants escaped. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const ICON = {
  critical: ':rotating_light:',
  error: ':x:',
  warning: ':warning:',
  info: ':information_source:',
};

/**
 * The Slack incoming-webhook body: `text` (what notifications and clients without blocks show) and Block Kit
 * sections. Links open pages; there is deliberately no button: approving happens in Stint, after a second factor.
 */
export function slackBody(m: NotificationMessage): { text: string; blocks: unknown[] } {
  const people = m.recipients.map((r) => r.name ?? r.id).join(', ');
  const lines = [`${ICON[m.severity]} *${esc(m.summary)}*`];
  if (people) lines.push(`For: ${esc(people)}`);
  if (m.links.request)
    lines.push(`<${m.links.request}|Open the request in Stint> (approving asks for your second factor)`);
  const context = [
    `${esc(m.event.action)} #${m.event.seq} · ${esc(m.deployment)} · ${m.event.time}`,
    `Acknowledge: \`stint notifications ack ${m.deliveryId} --token ${m.ack.token}\``,
  ];
  return {
    text: plainText(m).split('\n')[0] ?? m.summary,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } },
      { type: 'context', elements: context.map((text) => ({ type: 'mrkdwn', text })) },
    ],
  };
}

export function slackChannel(opts: {
  name: string;
  url: string;
  timeoutMs: number;
  concurrency: number;
}): Channel {
  return {
    name: opts.name,
    kind: 'slack',
    timeoutMs: opts.timeoutMs,
    concurrency: opts.concurrency,
    secrets: [opts.url],
    async send(message, signal) {
      await postJson(opts.url, JSON.stringify(slackBody(message)), {}, signal, opts.timeoutMs);
    },
  };
}
