import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { WitnessingState } from '../../audit/witness/witness-judgement.js';
import { CliError } from '../cli-error.js';
import type { CliIo } from '../context.js';

/**
 * What `stint audit verify` remembers between runs: per log origin, the newest checkpoint it verified. It is
 * fed back as one more checkpoint next time, so a server whose trail was since rolled back (MISSING) or
 * rewritten and regrown (FORK) fails even if its own store no longer holds the checkpoint that shows it.
 * The file holds only public, signed notes; it is trusted like the pinned key: keep it where you keep that.
 */
export interface RememberedCheckpoint {
  size: number;
  note: string;
  verifiedAt: string;
}

interface StateFile {
  version: 1;
  logs: Record<string, RememberedCheckpoint>;
  /** Added later: absent in files written before witnesses were checked. */
  witnessing?: Record<string, WitnessingState>;
}

export function defaultStatePath(env: CliIo['env']): string {
  if (env.STINT_AUDIT_STATE) return env.STINT_AUDIT_STATE;
  const config = env.XDG_CONFIG_HOME ?? join(env.HOME ?? homedir(), '.config');
  return join(config, 'stint', 'audit-state.json');
}

function readState(path: string): StateFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, logs: {} };
    throw new CliError(
      'FILE_UNREADABLE',
      `cannot read the audit state file ${path}: ${(e as Error).message}`,
    );
  }
  try {
    const parsed = JSON.parse(text) as StateFile;
    if (parsed?.version === 1 && parsed.logs && typeof parsed.logs === 'object') return parsed;
  } catch {
    // Reported below.
  }
  // Never silently start over: forgetting the remembered checkpoint is exactly what a rollback would want.
  throw new CliError(
    'FILE_UNREADABLE',
    `the audit state file ${path} is not one stint wrote; move it away to start over (and lose the rollback check)`,
  );
}

export function recall(path: string, origin: string): RememberedCheckpoint | null {
  const entry = readState(path).logs[origin];
  return entry && typeof entry.note === 'string' && Number.isSafeInteger(entry.size) ? entry : null;
}

function writeState(path: string, state: StateFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

/** Keeps the larger of what is remembered and `next`; written atomically (temp file, then rename). */
export function remember(path: string, origin: string, next: RememberedCheckpoint): void {
  const state = readState(path);
  const known = state.logs[origin];
  if (known && known.size > next.size) return;
  state.logs[origin] = next;
  writeState(path, state);
}

export function recallWitnessing(path: string, origin: string): WitnessingState {
  const entry = readState(path).witnessing?.[origin];
  return {
    firstSeen: { ...(entry?.firstSeen ?? {}) },
    witnesses: { ...(entry?.witnesses ?? {}) },
  };
}

export function rememberWitnessing(path: string, origin: string, next: WitnessingState): void {
  const state = readState(path);
  state.witnessing = { ...state.witnessing, [origin]: next };
  writeState(path, state);
}
