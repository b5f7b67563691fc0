import type { Duplex } from 'node:stream';
import type ssh2 from 'ssh2';
import type { OpenChannel, ProxiedSession } from './proxy-context.js';

/** Both ways with back-pressure; either side's close closes the other. */
function splice(session: ProxiedSession, a: Duplex, b: Duplex): void {
  let resolveFinished!: () => void;
  const open: OpenChannel = {
    close() {
      a.destroy();
      b.destroy();
    },
    finished: new Promise<void>((r) => {
      resolveFinished = r;
    }),
  };
  session.channels.add(open);
  a.pipe(b);
  b.pipe(a);
  const done = () => {
    a.destroy();
    b.destroy();
    if (session.channels.delete(open)) resolveFinished();
  };
  a.once('close', done);
  b.once('close', done);
  a.on('error', done);
  b.on('error', done);
}

/**
 * Port forwarding, only where the policy allows it (the resource's `proxy.portForwarding`) and the certificate
 * carries `permit-port-forwarding`: local (-L, `direct-tcpip`) and remote (-R, `tcpip-forward`) forwards are made
 * on the host in the user's name, each one audited (`session.forward`, allowed or refused, with its addresses).
 * The bytes are not recorded. Unix-socket forwards and X11 are refused.
 */
export function handleForwarding(session: ProxiedSession): void {
  const { client, grant } = session;
  const remote = new Map<string, true>();

  client.on('tcpip', (accept, reject, info) => {
    const what = {
      kind: 'local',
      to: `${info.destIP}:${info.destPort}`,
      from: `${info.srcIP}:${info.srcPort}`,
    };
    if (!grant.forwarding) {
      session.event('session.forward', { ...what, allowed: false });
      return reject?.();
    }
    void session.host
      .then((leg) => {
        leg.client.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, up) => {
          session.event('session.forward', {
            ...what,
            allowed: true,
            ...(err ? { result: err.message } : {}),
          });
          if (err || session.ended) return reject?.();
          splice(session, accept(), up);
        });
      })
      .catch(() => reject?.());
  });

  client.on('request', (accept, reject, name, info) => {
    if (name !== 'tcpip-forward' && name !== 'cancel-tcpip-forward') return reject?.();
    const bind = info as ssh2.TcpipBindInfo;
    const what = { kind: 'remote', bind: `${bind.bindAddr}:${bind.bindPort}` };
    if (!grant.forwarding) {
      if (name === 'tcpip-forward') session.event('session.forward', { ...what, allowed: false });
      return reject?.();
    }
    void session.host
      .then((leg) => {
        if (name === 'cancel-tcpip-forward') {
          remote.delete(`${bind.bindAddr}:${bind.bindPort}`);
          leg.client.unforwardIn(bind.bindAddr, bind.bindPort, (err) => (err ? reject?.() : accept?.()));
          return;
        }
        leg.client.forwardIn(bind.bindAddr, bind.bindPort, (err, port) => {
          session.event('session.forward', {
            ...what,
            allowed: true,
            ...(err ? { result: err.message } : { port }),
          });
          if (err) return reject?.();
          remote.set(`${bind.bindAddr}:${port}`, true);
          (accept as ((port?: number) => void) | undefined)?.(port);
        });
      })
      .catch(() => reject?.());
  });

  // Connections to a remote forward arrive at the host leg; they go to the user as forwarded-tcpip channels.
  void session.host
    .then((leg) => {
      leg.client.on('tcp connection', (info, accept, reject) => {
        if (!remote.has(`${info.destIP}:${info.destPort}`) || session.ended) return reject();
        client.forwardOut(info.destIP, info.destPort, info.srcIP, info.srcPort, (err, down) => {
          if (err) return reject();
          splice(session, down, accept());
        });
      });
    })
    .catch(() => {});
}
