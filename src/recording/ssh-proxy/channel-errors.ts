import type ssh2 from 'ssh2';
import type { ProxiedSession } from './proxy-context.js';

/**
 * A stream error on one channel (a write racing its close, a reset) is that channel's end, logged: never an
 * unhandled 'error' event, which would stop the whole server.
 */
export function quiet(session: ProxiedSession, channel: ssh2.ServerChannel | ssh2.ClientChannel): void {
  const log = (e: Error) =>
    session.deps.logger.warn({ session: session.id, err: e.message }, 'ssh proxy: channel stream error');
  channel.on('error', log);
  channel.stderr.on('error', log);
}
