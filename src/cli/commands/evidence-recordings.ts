import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import { castFileName, type SessionEntry } from '../../evidence/recording-section.js';
import type { RecordingView } from '../../recording/session-review/review-views.js';
import { CliError } from '../cli-error.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createHttpClient, DEFAULT_URL } from '../http-client.js';
import { readStoredToken } from '../token-file.js';

/**
 * The bytes of every segment the period sealed, for `stint evidence export --with-recordings`: each recording is
 * played from the server (which checks every segment against the audit trail before it answers), cut at the
 * segment sizes the server lists, and each piece checked again here against its own `recording.segment` event
 * before it goes into the pack. A recording this server cannot play (kept in another server's folder) stops the
 * export, naming it: a pack asked to carry the recordings does not leave one out quietly.
 */
export async function recordingCasts(
  ctx: CliContext,
  cmd: Command,
  sessions: readonly SessionEntry[],
): Promise<{ name: string; data: Buffer }[]> {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const http = createHttpClient({
    baseUrl: g.url ?? ctx.io.env.STINT_URL ?? DEFAULT_URL,
    token: g.token ?? ctx.io.env.STINT_TOKEN ?? readStoredToken(ctx.io.env),
    fetch: ctx.io.fetch ?? globalThis.fetch,
  });
  const out: { name: string; data: Buffer }[] = [];
  for (const s of sessions) {
    const wanted = s.recordings.filter((r) => r.segments.length > 0);
    if (wanted.length === 0) continue;
    const detail = await http.get<{ recordings: RecordingView[] }>(
      `/v1/recorded-sessions/${encodeURIComponent(s.sessionId)}`,
    );
    for (const r of wanted) {
      const listed = detail.recordings.find((x) => x.id === r.recordingId);
      if (!listed) throw new CliError('BAD_RESPONSE', `the server does not list recording ${r.recordingId}`);
      const cast = Buffer.from(
        await http.getText(`/v1/recordings/${encodeURIComponent(r.recordingId)}/cast`),
        'utf8',
      );
      const offsets = new Map<number, number>();
      let at = 0;
      for (const segment of [...listed.segments].sort((a, b) => a.index - b.index)) {
        offsets.set(segment.index, at);
        at += segment.bytes ?? 0;
      }
      for (const sealed of r.segments) {
        const from = offsets.get(sealed.segment);
        const data = from === undefined ? Buffer.alloc(0) : cast.subarray(from, from + sealed.bytes);
        const sha256 = createHash('sha256').update(data).digest('hex');
        if (sha256 !== sealed.sha256 || data.length !== sealed.bytes) {
          throw new CliError(
            'BAD_RESPONSE',
            `recording ${r.recordingId} segment ${sealed.segment} as served does not match its recording.segment event`,
          );
        }
        out.push({ name: castFileName(r.recordingId, sealed.segment), data });
      }
    }
  }
  return out;
}
