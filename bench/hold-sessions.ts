import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HOLDER = fileURLToPath(new URL('./session-holder.ts', import.meta.url));

export interface HeldSessions {
  /** Each session's end (Date.now() in the holder), null if it outlived `timeoutMs` from when it was held. */
  ended: Promise<(number | null)[]>;
  /** Ends the holder (and so its sessions) if it is still running. */
  close(): void;
}

/** Opens `urls` as target sessions in a child process (session-holder.ts); resolves once all are open. */
export function holdSessions(urls: string[], role: string, timeoutMs: number): Promise<HeldSessions> {
  const child = fork(HOLDER, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let ready = false;
    const ended = new Promise<(number | null)[]>((done, fail) => {
      child.on('message', (m: { ready?: true; ended?: (number | null)[] }) => {
        if (m.ready) {
          ready = true;
          resolve({ ended, close: () => child.kill('SIGKILL') });
        }
        if (m.ended) done(m.ended);
      });
      child.once('exit', (code) => {
        const err = new Error(`session holder exited with ${code}`);
        if (!ready) reject(err);
        fail(err);
      });
    });
    ended.catch(() => {});
    child.send({ urls, role, timeoutMs });
  });
}
