import type { Command } from 'commander';
import { parseCheckpoint } from '../../audit/log/checkpoint.js';
import { canonicalize } from '../../audit/log/jcs.js';
import type { AuditEventWithBody, StintApi } from '../api.js';
import { CliError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { integerArg } from '../options.js';
import type { Output } from '../output.js';
import { actorLabel, shortDetails } from '../render-audit-event.js';

/** The most /v1/audit/events returns at once. */
const EVENTS_PAGE = 1000;

interface TailFlags {
  lines?: number;
  after?: number;
  follow?: boolean;
  interval?: number;
}

/** Every event after `after`, page by page; each page handed to `each` as it comes. */
async function readAfter(
  api: StintApi,
  after: number | undefined,
  each: (events: AuditEventWithBody[]) => void,
): Promise<number | undefined> {
  let last = after;
  for (;;) {
    const { events } = await api.audit({
      ...(last === undefined ? {} : { afterSeq: last }),
      limit: EVENTS_PAGE,
    });
    if (!Array.isArray(events))
      throw new CliError('BAD_RESPONSE', 'GET /v1/audit/events did not answer { events }');
    if (events.length > 0) {
      each(events);
      last = (events.at(-1) as AuditEventWithBody).seq;
    }
    if (events.length < EVENTS_PAGE) return last;
  }
}

/** Where "the newest n events" start: n before the latest checkpoint's size (a few seconds behind at most). */
async function tailStart(api: StintApi, lines: number): Promise<number | undefined> {
  let size: number;
  try {
    const note = await api.auditLatestCheckpoint();
    // Only to position the read: nothing is trusted from it.
    size = parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1)).size;
  } catch {
    return undefined;
  }
  const after = size - lines - 1;
  return after >= 0 ? after : undefined;
}

function printer(out: Output, json: boolean) {
  return (e: AuditEventWithBody): void => {
    if (json) {
      // One canonical event per line, exactly as hashed into the log; a purged event has nothing to send.
      if (e.body === null) return;
      out.line(canonicalize(e.body ?? e));
      return;
    }
    const failed = e.body?.result === 'failure' ? 'FAILED ' : '';
    out.line(
      [
        out.when(e.body?.time ?? e.at, { seconds: true }),
        String(e.seq).padStart(6),
        actorLabel(e).padEnd(12),
        e.action.padEnd(26),
        (e.requestId ?? '-').padEnd(20),
        `${failed}${shortDetails(e.details)}`,
      ]
        .join('  ')
        .trimEnd(),
    );
  };
}

const TRANSIENT = new Set(['UNREACHABLE', 'BAD_RESPONSE', 'INTERNAL']);

export function registerAuditTail(audit: Command, ctx: CliContext): void {
  audit
    .command('tail')
    .description(
      'print the newest audit events; with --follow keep printing new ones (--json: one canonical event a line, for a SIEM)',
    )
    .option(
      '-n, --lines <n>',
      'how many of the newest events to print first (default 10)',
      integerArg(0, 10_000),
    )
    .option('--after <seq>', 'start after this sequence number instead (to resume a feed)', integerArg(0))
    .option('-f, --follow', 'keep polling for new events until interrupted')
    .option(
      '--interval <ms>',
      'with --follow: milliseconds between polls (default 1000)',
      integerArg(10, 3_600_000),
    )
    .action(async (flags: TailFlags, cmd: Command) => {
      const out = ctx.output(cmd);
      const api = ctx.api(cmd);
      const print = printer(out, out.json);
      let last: number | undefined;
      if (flags.after !== undefined) {
        last = await readAfter(api, flags.after, (events) => events.forEach(print));
      } else {
        const lines = flags.lines ?? 10;
        const ring: AuditEventWithBody[] = [];
        last = await readAfter(api, await tailStart(api, lines), (events) => {
          for (const e of events) {
            ring.push(e);
            if (ring.length > lines) ring.shift();
          }
        });
        ring.forEach(print);
      }
      if (!flags.follow) return;

      const interval = flags.interval ?? 1000;
      let stopped = false;
      let wake: (() => void) | null = null;
      void ctx.untilShutdown().then(() => {
        stopped = true;
        wake?.();
      });
      let failing = false;
      while (!stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, interval);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
        if (stopped) break;
        try {
          last = await readAfter(api, last, (events) => events.forEach(print));
          if (failing) out.note('audit tail: the server answers again');
          failing = false;
        } catch (e) {
          // A feed outlives a server restart; anything else (a revoked token) ends it.
          if (!(e instanceof CliError) || !TRANSIENT.has(e.code)) throw e;
          if (!failing) out.note(`audit tail: ${e.message}; retrying every ${interval} ms`);
          failing = true;
        }
      }
    });
}
