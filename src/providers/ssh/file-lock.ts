import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A holder keeps the lock for a few file writes; one older than this is stale whoever holds it. */
const STALE_AFTER_MS = 60_000;
/** A lock file still empty this long after it was made lost its writer before the pid went in. */
const EMPTY_STALE_AFTER_MS = 2_000;

/** Thrown when the signal aborts while waiting: nothing was done under the lock. */
export class LockAborted extends Error {
  override readonly name = 'LockAborted';
}

/** One holder per path inside this process, so waiters queue instead of polling the file. */
const local = new Map<string, Promise<void>>();

/**
 * Runs `fn` holding `<path>.lock`, made with O_EXCL so one process at a time (several Stint servers, or a server
 * and a tool, sharing a state directory). A lock left by a process that died (kill -9 while holding it) is
 * broken once its pid is gone; the lock records its pid for that reason.
 */
export async function withFileLock<T>(path: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  const before = local.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => {
    release = r;
  });
  const queued = before.then(() => mine);
  local.set(path, queued);
  try {
    await waitOrAbort(before, signal);
    const lockPath = `${path}.lock`;
    const token = await acquire(lockPath, signal);
    try {
      return await fn();
    } finally {
      await releaseFile(lockPath, token);
    }
  } finally {
    release();
    if (local.get(path) === queued) local.delete(path);
  }
}

function waitOrAbort(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new LockAborted('aborted'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new LockAborted('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
    );
  });
}

async function acquire(lockPath: string, signal: AbortSignal): Promise<string> {
  const token = `${process.pid} ${Date.now()} ${randomBytes(6).toString('hex')}`;
  let delay = 2;
  for (;;) {
    if (signal.aborted) throw new LockAborted('aborted');
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      try {
        await handle.writeFile(token);
      } finally {
        await handle.close();
      }
      return token;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const seen = await readFile(lockPath, 'utf8').catch(() => null);
    if (seen !== null && (await isStale(lockPath, seen))) {
      await breakStale(lockPath, seen);
      continue;
    }
    try {
      await sleep(delay, undefined, { signal });
    } catch {
      throw new LockAborted('aborted');
    }
    delay = Math.min(delay * 2, 25);
  }
}

async function isStale(lockPath: string, content: string): Promise<boolean> {
  const age = await stat(lockPath).then(
    (s) => Date.now() - s.mtimeMs,
    () => 0,
  );
  if (age > STALE_AFTER_MS) return true;
  const pid = Number(content.split(' ')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return age > EMPTY_STALE_AFTER_MS;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Moves the stale lock aside before deleting it, and deletes it only if it is still the one judged stale: two
 * waiters breaking the same lock must not delete the fresh lock one of them just took.
 */
async function breakStale(lockPath: string, seen: string): Promise<void> {
  const grave = `${lockPath}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(lockPath, grave);
  } catch {
    return;
  }
  const content = await readFile(grave, 'utf8').catch(() => null);
  if (content !== seen) await link(grave, lockPath).catch(() => {});
  await unlink(grave).catch(() => {});
}

async function releaseFile(lockPath: string, token: string): Promise<void> {
  const content = await readFile(lockPath, 'utf8').catch(() => null);
  if (content === token) await unlink(lockPath).catch(() => {});
}
