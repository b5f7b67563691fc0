import { setTimeout as sleep } from 'node:timers/promises';
import type { Session } from './connect.js';
import { replyCode } from './redis-errors.js';

/** One line of CLIENT LIST, as `field=value` pairs. */
function parseClients(list: string): Record<string, string>[] {
  return list
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const fields: Record<string, string> = {};
      for (const pair of line.trim().split(' ')) {
        const eq = pair.indexOf('=');
        if (eq > 0) fields[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      return fields;
    });
}

/** Connections authenticated as `user` right now. */
export async function clientsOf(session: Session, user: string): Promise<number> {
  const list = String(await session.call('CLIENT', 'LIST'));
  return parseClients(list).filter((c) => c.user === user).length;
}

/** Whether the connection of that id is still open on the server. */
export async function clientOpen(session: Session, id: number): Promise<boolean> {
  const list = String(await session.call('CLIENT', 'LIST', 'ID', String(id)));
  return parseClients(list).length > 0;
}

/** How long to keep killing a user's connections before reporting failure (the user stays). */
const KILL_TIMEOUT_MS = 5_000;

/**
 * Disconnects every connection of `user` until none is left, and answers how many were ended. Null when the user
 * does not exist (CLIENT KILL USER refuses an unknown user): there is nothing of it to end.
 */
export async function killClientsOf(
  session: Session,
  user: string,
  signal: AbortSignal,
): Promise<number | null> {
  const deadline = Date.now() + KILL_TIMEOUT_MS;
  let ended = 0;
  let delay = 1;
  for (;;) {
    try {
      ended += Number(await session.call('CLIENT', 'KILL', 'USER', user));
    } catch (err) {
      if (replyCode(err) === 'ERR' && /No such user/i.test((err as Error).message)) return null;
      throw err;
    }
    const left = await clientsOf(session, user);
    if (left === 0) return ended;
    if (Date.now() > deadline)
      throw new Error(`${left} connection(s) of ${user} still open after CLIENT KILL`);
    await sleep(delay, undefined, { signal });
    delay = Math.min(delay * 2, 20);
  }
}
