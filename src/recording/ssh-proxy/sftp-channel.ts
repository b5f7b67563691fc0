import type ssh2 from 'ssh2';
import { quiet } from './channel-errors.js';
import type { OpenChannel, ProxiedSession } from './proxy-context.js';
import { SftpTap } from './sftp-tap.js';

/**
 * The SFTP subsystem, passed through byte for byte to the host's own sftp-server (every client and server feature
 * works as it would directly), watched by the tap: each file operation becomes a `session.sftp` audit event. A
 * malformed SFTP packet, either way, closes this channel with the reason logged and audited; the session and the
 * proxy carry on.
 */
export async function bridgeSftp(session: ProxiedSession, accept: () => ssh2.ServerChannel): Promise<void> {
  // Accepted at once: a client may send its first packets right behind the request, and ssh2 drops data for a
  // channel not yet accepted. They wait in the channel's buffer until the host's side is open.
  const down = accept();
  quiet(session, down);
  const refuse = (why: string) => {
    down.resume();
    down.stderr.write(`[stint] ${why}\r\n`);
    down.exit(255);
    down.end();
  };
  const leg = await session.host.catch(() => null);
  if (!leg || session.ended) return refuse('the host could not be reached');
  const up = await new Promise<ssh2.ClientChannel | null>((resolve) =>
    leg.client.subsys('sftp', (err, stream) => resolve(err ? null : stream)),
  );
  if (!up || session.ended) {
    up?.close();
    return refuse('the host refused the SFTP subsystem');
  }
  quiet(session, up);
  const number = session.nextChannel();
  session.event('session.channel', { channel: number, type: 'sftp', recordingId: null });
  const tap = new SftpTap((op) => session.event('session.sftp', { channel: number, ...op }));
  let resolveFinished!: () => void;
  const open: OpenChannel = {
    close() {
      down.close();
      up.close();
    },
    finished: new Promise<void>((r) => {
      resolveFinished = r;
    }),
  };
  session.channels.add(open);
  let broken = false;
  const malformed = (side: string, e: unknown) => {
    if (broken) return;
    broken = true;
    const reason = `malformed SFTP from the ${side}: ${(e as Error).message}`;
    session.deps.logger.warn({ session: session.id, channel: number, reason }, 'ssh proxy: channel closed');
    session.event('session.channel_closed', { channel: number, reason });
    open.close('');
  };

  down.on('data', (d: Buffer) => {
    if (broken) return;
    try {
      tap.request(d);
    } catch (e) {
      return malformed('client', e);
    }
    if (!up.write(d)) {
      down.pause();
      up.once('drain', () => down.resume());
    }
  });
  up.on('data', (d: Buffer) => {
    if (broken) return;
    try {
      tap.response(d);
    } catch (e) {
      return malformed('host', e);
    }
    if (!down.write(d)) {
      up.pause();
      down.once('drain', () => up.resume());
    }
  });
  down.on('end', () => up.end());
  up.on('close', () => {
    down.end();
    session.channels.delete(open);
    resolveFinished();
  });
  down.on('close', () => up.close());
}
