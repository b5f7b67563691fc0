import type { Command } from 'commander';
import { parseAsciicast } from '../../recording/asciicast.js';
import type { RecordingView, ReviewView, SessionView } from '../../recording/session-review/review-views.js';
import { VERDICTS } from '../../recording/session-review/review-views.js';
import { usageError } from '../cli-error.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createHttpClient, DEFAULT_URL } from '../http-client.js';
import type { Output } from '../output.js';
import { readStoredToken } from '../token-file.js';

interface SessionDetail {
  session: SessionView;
  recordings: RecordingView[];
  review: ReviewView | null;
}

/** The recording routes are not in the typed client (StintApi): this command speaks to them directly. */
function http(ctx: CliContext, cmd: Command) {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return createHttpClient({
    baseUrl: g.url ?? ctx.io.env.STINT_URL ?? DEFAULT_URL,
    token: g.token ?? ctx.io.env.STINT_TOKEN ?? readStoredToken(ctx.io.env),
    fetch: ctx.io.fetch,
  });
}

function renderQueue(out: Output, reviews: ReviewView[]): void {
  if (reviews.length === 0) {
    out.line('no sessions waiting for review');
    return;
  }
  out.table(
    ['session', 'request', 'user', 'resource', 'why', 'due', 'state', 'claimed by'],
    reviews.map((r) => [
      r.sessionId,
      r.requestId,
      r.requester,
      r.resource,
      r.reasons.join(', '),
      `${out.when(r.dueAt)}${r.overdue ? ' (overdue)' : ''}`,
      r.verdict ? `${r.state}: ${r.verdict}` : r.state,
      r.claimedBy ?? '',
    ]),
  );
}

function renderSessions(out: Output, sessions: SessionView[]): void {
  if (sessions.length === 0) {
    out.line('no recorded sessions');
    return;
  }
  out.table(
    ['session', 'request', 'user', 'as', 'resource', 'started', 'ended'],
    sessions.map((s) => [
      s.id,
      s.requestId,
      s.requester,
      s.account,
      s.resource,
      out.when(s.startedAt),
      s.endedAt ? `${out.when(s.endedAt)} (${s.endReason ?? ''})` : 'live',
    ]),
  );
}

function renderSession(out: Output, d: SessionDetail): void {
  const s = d.session;
  out.fields([
    ['session', s.id],
    ['request', s.requestId],
    ['user', `${s.requester} as ${s.account} on ${s.resource} (${s.sensitivity})`],
    ['from', s.client ?? undefined],
    ['proxy', s.server],
    ['started', out.when(s.startedAt)],
    ['ended', s.endedAt ? `${out.when(s.endedAt)}: ${s.endReason ?? ''}` : 'live'],
    [
      'review',
      d.review
        ? `${d.review.state} (${d.review.reasons.join(', ')})${d.review.verdict ? `: ${d.review.verdict} by ${d.review.reviewer}` : ''}${d.review.claimedBy && !d.review.verdict ? `, claimed by ${d.review.claimedBy}` : ''}${d.review.overdue ? ', overdue' : ''}`
        : 'not drawn',
    ],
  ]);
  out.line();
  for (const r of d.recordings) {
    out.line(
      `${r.id}  channel ${r.channel} ${r.type}${r.command ? ` ${r.command}` : ''}  (${r.state}, ${r.storage})`,
    );
    for (const g of r.segments) {
      out.line(
        `  segment ${g.index}: ${g.state}${g.sha256 ? ` sha256 ${g.sha256} ${g.bytes} bytes` : ''}${g.recovered ? ' (recovered)' : ''}`,
      );
    }
  }
}

/** Writes the output events with their timing (idle gaps capped), as `asciinema play` would to a terminal. */
async function replay(
  write: (s: string) => void,
  cast: string,
  speed: number,
  maxWaitS: number,
): Promise<void> {
  const { events } = parseAsciicast(cast);
  let last = 0;
  for (const [at, code, data] of events) {
    if (code !== 'o') continue;
    const wait = Math.min(at - last, maxWaitS) / speed;
    last = at;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait * 1000));
    write(data);
  }
}

export function registerRecordings(program: Command, ctx: CliContext): void {
  const recordings = program
    .command('recordings')
    .description('recorded sessions and the session review queue (security and auditors)');

  recordings
    .command('list')
    .description('the session review queue; --sessions for every recorded session')
    .option('--sessions', 'list recorded sessions instead of the review queue')
    .option('--state <state>', 'queue state: queued, completed or all', 'queued')
    .option('--request <id>', 'with --sessions: the sessions of one request')
    .action(async (opts: { sessions?: boolean; state: string; request?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const api = http(ctx, cmd);
      if (opts.sessions) {
        const r = await api.get<{ sessions: SessionView[] }>('/v1/recorded-sessions', {
          request: opts.request,
        });
        return out.result(r, () => renderSessions(out, r.sessions));
      }
      if (!['queued', 'completed', 'all'].includes(opts.state))
        throw usageError('--state must be queued, completed or all');
      const r = await api.get<{ reviews: ReviewView[] }>('/v1/session-reviews', { state: opts.state });
      out.result(r, () => renderQueue(out, r.reviews));
    });

  recordings
    .command('show')
    .description('one session: its recordings, their segments and hashes, its review')
    .argument('<session>', 'session id (ses_…)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const r = await http(ctx, cmd).get<SessionDetail>(`/v1/recorded-sessions/${encodeURIComponent(id)}`);
      out.result(r, () => renderSession(out, r));
    });

  recordings
    .command('play')
    .description(
      'replay a recording (rec_…), or every recording of a session (ses_…); --raw prints the asciicast',
    )
    .argument('<id>', 'recording id (rec_…) or session id (ses_…)')
    .option('--raw', 'print the asciicast v2 text (for asciinema play - or asciinema-player)')
    .option('--speed <n>', 'playback speed', '1')
    .option('--max-wait <seconds>', 'longest pause replayed', '2')
    .action(async (id: string, opts: { raw?: boolean; speed: string; maxWait: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const speed = Number(opts.speed);
      const maxWait = Number(opts.maxWait);
      if (!(speed > 0) || !(maxWait >= 0))
        throw usageError('--speed must be above 0 and --max-wait at least 0');
      const api = http(ctx, cmd);
      let ids = [id];
      if (id.startsWith('ses_')) {
        const d = await api.get<SessionDetail>(`/v1/recorded-sessions/${encodeURIComponent(id)}`);
        ids = d.recordings.map((r) => r.id);
      } else if (!id.startsWith('rec_'))
        throw usageError('give a recording id (rec_…) or a session id (ses_…)');
      for (const rec of ids) {
        // Every segment is checked against the audit trail by the server before it answers.
        const cast = await api.getText(`/v1/recordings/${encodeURIComponent(rec)}/cast`);
        const write = (text: string) => ctx.io.stdout.write(text);
        // A PostgreSQL statement log (JSON lines) is read, not replayed.
        if (opts.raw || out.json || cast.startsWith('{"version":1,"kind":"pg-query-log"')) write(cast);
        else await replay(write, cast, speed, maxWait);
      }
    });

  recordings
    .command('review')
    .description('record the verdict on a queued session')
    .argument('<session>', 'session id (ses_…)')
    .requiredOption('--verdict <verdict>', `one of ${VERDICTS.join(', ')}`)
    .option('--notes <text>', 'what was seen', '')
    .action(async (id: string, opts: { verdict: string; notes: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      if (!(VERDICTS as readonly string[]).includes(opts.verdict)) {
        throw usageError(`--verdict must be one of ${VERDICTS.join(', ')}`);
      }
      const r = await http(ctx, cmd).post<ReviewView>(
        `/v1/session-reviews/${encodeURIComponent(id)}/verdict`,
        {
          verdict: opts.verdict,
          notes: opts.notes,
        },
      );
      out.result(r, () => out.line(`${r.sessionId}: ${r.verdict} (reviewed by ${r.reviewer})`));
    });

  for (const [name, description] of [
    ['claim', 'claim a queued session to review it (one claimant at a time)'],
    ['release', 'give a claimed session back to the queue'],
  ] as const) {
    recordings
      .command(name)
      .description(description)
      .argument('<session>', 'session id (ses_…)')
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        const out = ctx.output(cmd);
        const r = await http(ctx, cmd).post<ReviewView>(
          `/v1/session-reviews/${encodeURIComponent(id)}/${name}`,
        );
        out.result(r, () =>
          out.line(
            r.claimedBy
              ? `${r.sessionId}: claimed by ${r.claimedBy}, due ${out.when(r.dueAt)}`
              : `${r.sessionId}: back in the queue, due ${out.when(r.dueAt)}`,
          ),
        );
      });
  }
}
