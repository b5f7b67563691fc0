import { randomBytes } from 'node:crypto';
import type ssh2 from 'ssh2';
import { AsciicastRecorder } from '../asciicast.js';
import { recordingStore } from '../recording-store.js';
import { openSegmentWriter } from '../segments.js';
import { quiet } from './channel-errors.js';
import type { OpenChannel, ProxiedSession } from './proxy-context.js';
import { bridgeSftp } from './sftp-channel.js';

type Recording = { id: string; recorder: AsciicastRecorder };
/** The host's exit status (or signal) for the channel, once it came. */
type ExitInfo = { args: unknown[] | null };

/**
 * One `session` channel of the user's connection: its pty, environment and window changes are gathered as the
 * client sends them, and the shell, command or SFTP subsystem it asks for is opened on the host with the same
 * settings, then bridged both ways with back-pressure (a slow reader on either side pauses the other, which is
 * what keeps ssh2's windows honest). Shells and commands are recorded; SFTP has its operations logged.
 */
export function handleSessionChannel(session: ProxiedSession, channel: ssh2.Session): void {
  const { deps, grant } = session;
  let pty: ssh2.PseudoTtyInfo | null = null;
  const env: Record<string, string> = {};
  let up: ssh2.ClientChannel | null = null;
  let recording: Recording | null = null;
  let started = false;

  channel.on('pty', (accept, reject, info) => {
    if (!grant.pty) return reject?.();
    pty = info;
    accept?.();
  });
  channel.on('window-change', (accept, _reject, info) => {
    if (pty) pty = { ...pty, cols: info.cols, rows: info.rows, width: info.width, height: info.height };
    up?.setWindow(info.rows, info.cols, info.height, info.width);
    recording?.recorder.resize(info.cols, info.rows);
    accept?.();
  });
  channel.on('env', (accept, reject, info) => {
    if (Object.keys(env).length >= 32 || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(info.key)) return reject?.();
    env[info.key] = info.val;
    accept?.();
  });
  channel.on('signal', (accept, _reject, info) => {
    up?.signal(info.name);
    accept?.();
  });
  channel.on('auth-agent', (_accept, reject) => reject?.());
  channel.on('x11', (_accept, reject) => reject?.());
  const failed = (e: unknown) =>
    deps.logger.error({ session: session.id, err: (e as Error).message }, 'ssh proxy: channel failed');
  channel.on('shell', (accept, reject) => open('shell', undefined, accept, reject).catch(failed));
  channel.on('exec', (accept, reject, info) => open('exec', info.command, accept, reject).catch(failed));
  channel.on('subsystem', (accept, reject, info) => {
    if (info.name !== 'sftp' || started) return reject?.();
    started = true;
    bridgeSftp(session, accept).catch(failed);
  });

  async function open(
    type: 'shell' | 'exec',
    command: string | undefined,
    accept: () => ssh2.ServerChannel,
    reject: (() => void) | undefined,
  ): Promise<void> {
    if (started) return reject?.();
    started = true;
    // Accepted at once: a client may send input right behind its request (`cat file | ssh host cmd`), and ssh2
    // drops data for a channel not yet accepted. It waits in the channel's buffer until the host's side is open.
    const down = accept();
    quiet(session, down);
    /** Tells the user why, ends the channel, and resolves once the client closed it (or a second passed). */
    const refuse = (why: string) => {
      const closed = new Promise((r) => {
        down.once('close', r);
        setTimeout(r, 1_000);
      });
      down.resume();
      down.stderr.write(`[stint] ${why}\r\n`);
      down.exit(255);
      down.end();
      return closed;
    };
    const leg = await session.host.catch(() => null);
    if (!leg || session.ended) return void (await refuse('the host could not be reached'));
    const number = session.nextChannel();
    try {
      recording = await startRecording(session, type, command, pty, number);
    } catch (e) {
      const message = (e as Error).message;
      session.event('recording.failed', {
        channel: number,
        reason: message,
        continued: !failClosed(session),
      });
      if (failClosed(session)) {
        // Nothing reaches the host. The session ends with this reason; the channel, told why, closes first.
        let closed!: () => void;
        const refusal: OpenChannel = {
          close() {
            down.once('close', () => closed());
            // Its input is not wanted; read and dropped, so the channel can end (a paused one never emits close).
            down.resume();
            down.stderr.write(
              '[stint] the session cannot be recorded: it is ended (the policy fails closed)\r\n',
            );
            down.exit(255);
            down.end();
          },
          finished: new Promise<void>((r) => {
            closed = r;
          }),
        };
        session.channels.add(refusal);
        await session.end(`recording cannot be written (${message})`);
        return;
      }
    }
    const ptyOptions = pty
      ? {
          term: pty.term,
          cols: pty.cols,
          rows: pty.rows,
          width: pty.width,
          height: pty.height,
          modes: pty.modes,
        }
      : false;
    const exit: ExitInfo = { args: null };
    const opened = await new Promise<ssh2.ClientChannel | null>((resolve) => {
      const done = (err: Error | undefined, stream: ssh2.ClientChannel) => {
        // Listened to here, not after the await: a quick command's exit status can arrive in the same read as
        // the channel's opening, and ssh2 emits it once, to whoever listens then.
        stream?.on('exit', (...args: unknown[]) => {
          exit.args = args;
        });
        resolve(err ? null : stream);
      };
      if (type === 'shell') leg.client.shell(ptyOptions, { env }, done);
      else leg.client.exec(command ?? '', { env, ...(ptyOptions ? { pty: ptyOptions } : {}) }, done);
    });
    if (!opened || session.ended) {
      opened?.close();
      await recording?.recorder.close();
      if (recording)
        await recordingStore.endRecording(deps.db, recording.id, deps.clock().getTime(), 'complete');
      return void (await refuse(`the host refused the ${type}`));
    }
    up = opened;
    quiet(session, opened);
    session.event('session.channel', {
      channel: number,
      type,
      ...(command !== undefined ? { command } : {}),
      pty: pty !== null,
      recordingId: recording?.id ?? null,
    });
    bridge(session, down, opened, recording, exit);
  }
}

/** Makes the channel's recording; its header is flushed at once, so storage that cannot be written fails here. */
async function startRecording(
  session: ProxiedSession,
  type: 'shell' | 'exec',
  command: string | undefined,
  pty: ssh2.PseudoTtyInfo | null,
  channel: number,
): Promise<Recording> {
  const { deps, grant } = session;
  const id = `rec_${randomBytes(12).toString('base64url')}`;
  const now = deps.clock();
  await recordingStore.insertRecording(deps.db, {
    id,
    session_id: session.id,
    channel,
    type,
    command: command ?? null,
    storage: deps.storage.location,
    state: 'live',
    started_at: now.getTime(),
    ended_at: null,
  });
  const ref = {
    recordingId: id,
    sessionId: session.id,
    requestId: grant.request.id,
    resource: grant.resource.id,
  };
  // A failure before the recording is under way is the caller's to handle (the channel is refused first, so the
  // user is told); from then on it ends the session by policy.
  let underWay = false;
  const writer = await openSegmentWriter(deps, ref, (e) => {
    if (underWay) void recordingFailed(session, id, e);
  });
  const recorder = new AsciicastRecorder(
    writer,
    {
      width: pty?.cols || 80,
      height: pty?.rows || 24,
      timestamp: Math.floor(now.getTime() / 1000),
      ...(command !== undefined ? { command } : {}),
      title: `${grant.request.requester} as ${grant.account} on ${grant.resource.id} (${grant.request.id})`,
      env: { TERM: pty?.term || 'dumb', SHELL: type === 'shell' ? 'login shell' : 'none' },
    },
    { captureInput: grant.resource.options.proxy?.captureInput ?? false, now: () => deps.clock().getTime() },
  );
  await writer.flush();
  if (writer.failure) {
    await recordingStore.endRecording(deps.db, id, deps.clock().getTime(), 'failed').catch(() => {});
    throw writer.failure;
  }
  underWay = true;
  return { id, recorder };
}

function failClosed(session: ProxiedSession): boolean {
  return (session.grant.resource.options.proxy?.onRecordingFailure ?? 'end-session') === 'end-session';
}

/** A recording that stopped being writable mid-session. */
async function recordingFailed(session: ProxiedSession, recordingId: string, e: Error): Promise<void> {
  session.event('recording.failed', { recordingId, reason: e.message, continued: !failClosed(session) });
  await recordingStore
    .endRecording(session.deps.db, recordingId, session.deps.clock().getTime(), 'failed')
    .catch(() => {});
  if (failClosed(session)) await session.end(`recording cannot be written (${e.message})`);
}

/** Both ways, with back-pressure, recording what passes; exit status and close carried across. */
function bridge(
  session: ProxiedSession,
  down: ssh2.ServerChannel,
  up: ssh2.ClientChannel,
  recording: Recording | null,
  exit: ExitInfo,
): void {
  const { deps } = session;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => {
    resolveFinished = r;
  });
  let finishing = false;
  const finish = async () => {
    if (finishing) return;
    finishing = true;
    if (recording) {
      await recording.recorder.close().catch(() => {});
      await recordingStore
        .endRecording(deps.db, recording.id, deps.clock().getTime(), 'complete')
        .catch(() => {});
    }
    session.channels.delete(open);
    resolveFinished();
  };
  const open: OpenChannel = {
    close(reason) {
      recording?.recorder.marker(`session ended: ${reason}`);
      down.stderr.write(`\r\n[stint] session ended: ${reason}\r\n`);
      down.close();
      up.close();
    },
    finished,
  };
  session.channels.add(open);

  up.on('data', (d: Buffer) => {
    recording?.recorder.output(d);
    if (!down.write(d)) {
      up.pause();
      down.once('drain', () => up.resume());
    }
  });
  up.stderr.on('data', (d: Buffer) => {
    recording?.recorder.output(d);
    if (!down.stderr.write(d)) {
      up.stderr.pause();
      down.stderr.once('drain', () => up.stderr.resume());
    }
  });
  down.on('data', (d: Buffer) => {
    recording?.recorder.input(d);
    if (!up.write(d)) {
      down.pause();
      up.once('drain', () => down.resume());
    }
  });
  down.on('end', () => up.end());
  up.on('close', () => {
    if (exit.args) {
      const [code, signal, dumped, message] = exit.args;
      if (typeof code === 'number') down.exit(code);
      else if (typeof signal === 'string')
        down.exit(signal.replace(/^SIG/, ''), dumped === true, typeof message === 'string' ? message : '');
    }
    down.end();
    void finish();
  });
  down.on('close', () => {
    up.close();
    void finish();
  });
}
