import { type Command, Option } from 'commander';
import { DELIVERY_STATUSES, type DeliveryStatus, type DeliveryView } from '../../notify/deliveries.js';
import type { AckView } from '../../notify/notify-service.js';
import { usageError } from '../cli-error.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createHttpClient, DEFAULT_URL, type HttpClient } from '../http-client.js';
import { integerArg } from '../options.js';
import { truncate } from '../output.js';
import { readStoredToken } from '../token-file.js';

/** The notification routes of the API, one method per route. */
export function createNotificationsApi(http: HttpClient) {
  return {
    list: (q: { status?: DeliveryStatus; channel?: string; event?: number; limit?: number }) =>
      http.get<{ deliveries: DeliveryView[] }>('/v1/notifications/deliveries', q),
    ack: (id: string, token: string, by?: string) =>
      http.post<AckView>(`/v1/notifications/deliveries/${encodeURIComponent(id)}/ack`, {
        token,
        ...(by ? { by } : {}),
      }),
  };
}

function httpFrom(ctx: CliContext, cmd: Command, signedIn = true): HttpClient {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return createHttpClient({
    baseUrl: g.url ?? ctx.io.env.STINT_URL ?? DEFAULT_URL,
    token: signedIn ? (g.token ?? ctx.io.env.STINT_TOKEN ?? readStoredToken(ctx.io.env)) : undefined,
    fetch: ctx.io.fetch,
  });
}

/**
 * `stint notifications …`: what was sent where (security and admins), and acknowledging a message with the
 * token it carried (anyone holding the message; no sign-in needed).
 */
export function registerNotifications(
  program: Command,
  ctx: CliContext,
  http: (cmd: Command) => HttpClient = (cmd) => httpFrom(ctx, cmd),
  ackHttp: (cmd: Command) => HttpClient = (cmd) => httpFrom(ctx, cmd, false),
): void {
  const group = program.command('notifications').description('notification deliveries and acknowledgements');

  group
    .command('list')
    .description('deliveries and where they stand (security and admins)')
    .addOption(new Option('--status <status>', 'only deliveries in this status').choices(DELIVERY_STATUSES))
    .option('--channel <name>', 'only this channel')
    .option('--event <seq>', 'only the deliveries of this audit event', integerArg(0))
    .option('--limit <n>', 'at most this many', integerArg(1, 500))
    .action(
      async (
        opts: { status?: DeliveryStatus; channel?: string; event?: number; limit?: number },
        cmd: Command,
      ) => {
        const out = ctx.output(cmd);
        const body = await createNotificationsApi(http(cmd)).list(opts);
        out.result(body, () => {
          if (body.deliveries.length === 0) {
            out.line('no deliveries');
            return;
          }
          out.table(
            ['id', 'event', 'channel', 'status', 'attempts', 'last error', 'acknowledged'],
            body.deliveries.map((d) => [
              d.id,
              `#${d.eventSeq} ${d.action}`,
              d.channel,
              d.status,
              String(d.attempts),
              d.lastError ? truncate(d.lastError, 40) : '-',
              d.acknowledgedAt ? `${out.when(d.acknowledgedAt)} (${d.acknowledgedBy ?? '?'})` : '-',
            ]),
          );
        });
      },
    );

  group
    .command('ack')
    .description('acknowledge a message with the token it carried: ack <dlv_…> --token <ack_…>')
    .argument('<delivery-id>', 'the dlv_… id the message names')
    .option('--by <name>', 'who acknowledges (recorded as given)')
    .action(async (id: string, opts: { by?: string }, cmd: Command) => {
      if (!/^dlv_[0-9a-f]{32}$/.test(id))
        throw usageError(`"${id}" is not a delivery id (dlv_ and 32 hex digits)`);
      // `--token` is the program's own option; here it carries the message's ack_… token, never an API token:
      // the route takes no sign-in, so nothing else is sent.
      const token = cmd.optsWithGlobals<GlobalOptions>().token;
      if (!token?.startsWith('ack_'))
        throw usageError('--token <ack_…>: the acknowledgement token from the message');
      const out = ctx.output(cmd);
      const done = await createNotificationsApi(ackHttp(cmd)).ack(id, token, opts.by);
      out.result(done, () => {
        out.line(
          done.recorded
            ? `acknowledged ${done.deliveryId} (event #${done.eventSeq}, channel ${done.channel}) as ${done.acknowledgedBy}`
            : `already acknowledged ${out.when(done.acknowledgedAt)} by ${done.acknowledgedBy}`,
        );
      });
    });
}
