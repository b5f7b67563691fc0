import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { connect } from 'node:net';
import { serialize } from 'pg-protocol';
import type { UpstreamTarget } from './upstream.js';

interface Key {
  secret: Buffer;
  target: UpstreamTarget;
  upstreamPid: number;
  upstreamSecret: number;
}

/**
 * Cancel requests, routed: each session's client gets a BackendKeyData of the proxy's own (a process id unique in
 * this proxy, a random secret), never the target's. A CancelRequest naming one, with its secret (compared in
 * constant time), is sent on to the target with the target's own key; anything else is dropped, as PostgreSQL drops
 * a cancel it does not know. Cancels reach the proxy that carries the session (behind a load balancer spreading
 * connections over several proxies, a cancel landing on another one is dropped: docs/recording.md).
 */
export function createCancelKeys() {
  const keys = new Map<number, Key>();
  return {
    issue(
      target: UpstreamTarget,
      upstreamPid: number,
      upstreamSecret: number,
    ): { pid: number; secret: Buffer } {
      let pid = randomInt(1, 2 ** 31 - 1);
      while (keys.has(pid)) pid = randomInt(1, 2 ** 31 - 1);
      const secret = randomBytes(4);
      keys.set(pid, { secret, target, upstreamPid, upstreamSecret });
      return { pid, secret };
    },
    drop(pid: number): void {
      keys.delete(pid);
    },
    /** True when the key was one of ours and the cancel was sent on. */
    async route(pid: number, secret: Buffer): Promise<boolean> {
      const key = keys.get(pid);
      if (!key || secret.length !== key.secret.length || !timingSafeEqual(secret, key.secret)) return false;
      await send(key);
      return true;
    },
    /** The proxy's own cancel, for a session it ends mid-statement (the target would run it to its end). */
    async cancel(pid: number): Promise<void> {
      const key = keys.get(pid);
      if (key) await send(key);
    },
  };
}

function send(key: Key): Promise<void> {
  return new Promise<void>((resolve) => {
    // Plain TCP, as libpq sends cancels (they carry no credential beyond the key).
    const s = connect({ host: key.target.host, port: key.target.port });
    s.setTimeout(5_000, () => s.destroy());
    s.once('connect', () => s.end(serialize.cancel(key.upstreamPid, key.upstreamSecret)));
    s.once('close', () => resolve());
    s.once('error', () => resolve());
  });
}

export type CancelKeys = ReturnType<typeof createCancelKeys>;
