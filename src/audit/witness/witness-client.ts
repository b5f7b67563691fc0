import { encodeBase64 } from '../log/base64.js';
import { cosignedBy, signatureLines } from './cosignature.js';
import type { WitnessConfig } from './witness-config.js';

/** What one add-checkpoint call came to. */
export type SubmitOutcome =
  | { readonly ok: true; readonly lines: readonly string[] }
  /** The witness has cosigned another size: resubmit with a proof from there (or the log is behind it). */
  | { readonly ok: false; readonly conflict: number }
  | { readonly ok: false; readonly status: number; readonly message: string };

const TIMEOUT_MS = 10_000;

/**
 * One C2SP tlog-witness `add-checkpoint` call (c2sp.org/tlog-witness): `old <size>`, the consistency proof
 * lines, a blank line, the signed checkpoint. The answer is cosignature lines, kept only if they verify with
 * the witness's configured key (lines by other keys are dropped, as the spec asks).
 */
export async function addCheckpoint(
  witness: WitnessConfig,
  oldSize: number,
  proof: readonly Uint8Array[],
  note: string,
): Promise<SubmitOutcome> {
  const body = `old ${oldSize}\n${proof.map((h) => `${encodeBase64(h)}\n`).join('')}\n${note}`;
  const res = await fetch(`${witness.url}/add-checkpoint`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  if (res.status === 409 && /^text\/x\.tlog\.size/.test(res.headers.get('content-type') ?? '')) {
    const size = /^(0|[1-9][0-9]*)\n$/.exec(text);
    if (size) return { ok: false, conflict: Number(size[1]) };
  }
  if (res.status !== 200) return { ok: false, status: res.status, message: text.slice(0, 200) };
  const lines = text.split('\n').filter((l) => l !== '');
  const mine = lines.filter((line) => cosignedBy(`${note}${line}\n`, [witness.verifier]).length > 0);
  if (mine.length === 0) {
    return { ok: false, status: 502, message: 'the witness answered no valid cosignature by its key' };
  }
  // Lines we already carried (our own signatures echoed) are not cosignatures.
  const ours = new Set(signatureLines(note));
  return { ok: true, lines: mine.filter((l) => !ours.has(l)) };
}
