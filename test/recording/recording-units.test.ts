import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/load-config.js';
import { parseCaKey } from '../../src/providers/ssh/ca-key.js';
import { signCertificate } from '../../src/providers/ssh/certificate.js';
import { string } from '../../src/providers/ssh/wire.js';
import { AsciicastRecorder, parseAsciicast } from '../../src/recording/asciicast.js';
import { InputFilter } from '../../src/recording/input-filter.js';
import { recordingConfigFromEnv } from '../../src/recording/recording-config.js';
import { createRecordingModule } from '../../src/recording/recording-module.js';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import type { SegmentWriter } from '../../src/recording/segments.js';
import { readCertificateBlob, signedByItsCa } from '../../src/recording/ssh-proxy/certificate-blob.js';
import { acceptedHostCertificate } from '../../src/recording/ssh-proxy/host-keys.js';
import { sourceAddressAllows } from '../../src/recording/ssh-proxy/login-check.js';
import { type SftpOperation, SftpTap } from '../../src/recording/ssh-proxy/sftp-tap.js';
import { STALE_AFTER_MS } from '../../src/recording/storage/store-storage.js';
import { createHarness, type Harness } from '../support/harness.js';
import { run } from '../support/sshd.js';

function sink(): SegmentWriter & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    write: (l) => {
      lines.push(l);
    },
    flush: async () => {},
    close: async () => {},
    failure: null,
    bytes: 0,
  };
}

describe('asciicast', () => {
  it('keeps a character split between two packets whole', async () => {
    const s = sink();
    let now = 1_000;
    const rec = new AsciicastRecorder(
      s,
      { width: 80, height: 24, timestamp: 1 },
      { captureInput: false, now: () => now },
    );
    const euro = Buffer.from('price: 5€\n', 'utf8');
    rec.output(euro.subarray(0, euro.length - 3));
    now += 10;
    rec.output(euro.subarray(euro.length - 3));
    rec.resize(100, 30);
    await rec.close();
    const cast = parseAsciicast(s.lines.join(''));
    expect(cast.header).toMatchObject({ version: 2, width: 80, height: 24 });
    expect(cast.events.map((e) => e[2]).join('')).toContain('5€\n');
    expect(cast.events.some((e) => e[2].includes('\ufffd'))).toBe(false);
    expect(cast.events.at(-1)).toEqual([0.01, 'r', '100x30']);
  });

  it('refuses text that is not asciicast v2', () => {
    expect(() => parseAsciicast('{"version":1}\n')).toThrow(/header/);
    expect(() => parseAsciicast('{"version":2,"width":1,"height":1}\n[1,"o"]\n')).toThrow(/line 2/);
  });
});

describe('the echo-off heuristic', () => {
  const decide = async (steps: (f: InputFilter) => void) => {
    const out: (string | null)[] = [];
    const f = new InputFilter((d) => out.push(d.text), 50);
    steps(f);
    await new Promise((r) => setTimeout(r, 80));
    f.close();
    return out;
  };

  it('keeps what the host echoed', async () => {
    expect(
      await decide((f) => {
        f.output('$ ');
        f.input('ls -l\r', 1);
        f.output('ls -l\r\n');
      }),
    ).toEqual(['ls -l\r']);
  });

  it('withholds what never came back, and anything typed at a secret prompt', async () => {
    expect(
      await decide((f) => {
        f.output('Enter it: ');
        f.input('s3cret\r', 1);
        f.output('\r\n');
      }),
    ).toEqual([null]);
    expect(
      await decide((f) => {
        f.output('[sudo] password for ops: ');
        // Even echoed (a broken terminal), a password prompt's answer is not kept.
        f.input('pw\r', 1);
        f.output('pw\r\n');
      }),
    ).toEqual([null]);
  });

  it('keeps control keys with the echoed text around them, and sees through escape sequences', async () => {
    expect(
      await decide((f) => {
        f.output('$ ');
        f.input('git st\x1b[D', 1);
        f.output('git st\x1b[1D');
      }),
    ).toEqual(['git st\x1b[D']);
  });
});

describe('SFTP tap', () => {
  const packet = (type: number, id: number, ...fields: Buffer[]) => {
    const body = Buffer.concat([Buffer.from([type]), Buffer.alloc(4), ...fields]);
    body.writeUInt32BE(id, 1);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
  };
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };

  it('reports an open and its close with the bytes that went through, across split packets', () => {
    const ops: SftpOperation[] = [];
    const tap = new SftpTap((op) => ops.push(op));
    const open = packet(3, 1, string('/etc/motd'), u32(0x01), u32(0));
    tap.request(open.subarray(0, 5));
    tap.request(open.subarray(5));
    tap.response(packet(102, 1, string('h1')));
    tap.request(packet(5, 2, string('h1'), Buffer.alloc(8), u32(1000)));
    tap.response(packet(103, 2, string(Buffer.alloc(300))));
    tap.request(packet(4, 3, string('h1')));
    tap.response(packet(101, 3, u32(0), string(''), string('')));
    tap.request(packet(13, 4, string('/tmp/x')));
    tap.response(packet(101, 4, u32(3), string('denied'), string('')));
    expect(ops).toEqual([
      { op: 'open', path: '/etc/motd', mode: ['read'], result: 'ok' },
      { op: 'close', path: '/etc/motd', bytesRead: 300, bytesWritten: 0, result: 'ok' },
      { op: 'remove', path: '/tmp/x', result: 'permission-denied' },
    ]);
  });

  it('throws on a length no SFTP packet has', () => {
    const tap = new SftpTap(() => {});
    expect(() => tap.request(Buffer.from([0x7f, 0, 0, 0, 1]))).toThrow(/SFTP packet of/);
  });
});

describe('certificates', () => {
  let dir: string;
  beforeAll(async () => {
    dir = (await run('mktemp', ['-d'])).stdout.trim();
  });
  afterAll(async () => {
    await run('rm', ['-rf', dir]);
  });

  it('checks a CA signature made by ssh-keygen, and refuses one byte changed', async () => {
    expect((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/ca`])).code).toBe(0);
    expect((await run('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', `${dir}/host`])).code).toBe(0);
    const signed = await run('ssh-keygen', [
      '-q',
      '-s',
      `${dir}/ca`,
      '-h',
      '-I',
      'h',
      '-n',
      'db.example',
      '-V',
      '-5m:+1h',
      `${dir}/host.pub`,
    ]);
    expect(signed.code).toBe(0);
    const line = (await run('cat', [`${dir}/host-cert.pub`])).stdout;
    const blob = Buffer.from(line.split(' ')[1] as string, 'base64');
    const cert = readCertificateBlob(blob);
    expect(cert).toMatchObject({ type: 'host', keyType: 'ecdsa-sha2-nistp256', principals: ['db.example'] });
    expect(signedByItsCa(cert)).toBe(true);
    const ca = Buffer.from((await run('cat', [`${dir}/ca.pub`])).stdout.split(' ')[1] as string, 'base64');
    expect(acceptedHostCertificate(cert, ca, 'db.example', new Date())).toBe(true);
    expect(acceptedHostCertificate(cert, ca, 'other.example', new Date())).toBe(false);
    const bent = Buffer.from(blob);
    bent[bent.length - 100] = (bent[bent.length - 100] as number) ^ 1;
    expect(signedByItsCa(readCertificateBlob(bent))).toBe(false);
  });

  it('reads the options sshd enforces', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const ca = parseCaKey(pem);
    const line = signCertificate(ca, {
      keyBlob: ca.publicBlob,
      type: 'user',
      serial: 7n,
      keyId: 'k',
      principals: ['ops'],
      validAfter: new Date(Date.now() - 1000),
      validBefore: new Date(Date.now() + 60_000),
      criticalOptions: new Map([['source-address', '10.0.0.0/8']]),
      extensions: new Map([['permit-pty', null]]),
    });
    const cert = readCertificateBlob(Buffer.from(line.split(' ')[1] as string, 'base64'));
    expect(cert.criticalOptions.get('source-address')).toBe('10.0.0.0/8');
    expect([...cert.extensions]).toEqual(['permit-pty']);
    expect(cert.serial).toBe(7n);
    expect(signedByItsCa(cert)).toBe(true);
  });
});

describe('recordings kept in the store', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('sqlite');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('any server finalises the open segments of a proxy that stopped beating, once, whole lines only', async () => {
    const db = recordingDb(h.stint.deps.store.db);
    const stale = Date.now() - STALE_AFTER_MS - 1_000;
    await recordingStore.insertSession(db, {
      id: 'ses_orphan00001',
      request_id: 'req_0000000000000001',
      requester: 'alice',
      resource: 'staging-db',
      role: 'read',
      sensitivity: 'routine',
      protocol: 'ssh',
      account: 'ops',
      client: '10.0.0.1',
      server: 'gone/1',
      started_at: stale,
      ended_at: null,
      end_reason: null,
      heartbeat_at: stale,
    });
    await recordingStore.insertRecording(db, {
      id: 'rec_orphan00001',
      session_id: 'ses_orphan00001',
      channel: 1,
      type: 'shell',
      command: null,
      storage: 'store',
      state: 'live',
      started_at: stale,
      ended_at: null,
    });
    await recordingStore.openSegment(db, 'rec_orphan00001', 0, stale);
    await db
      .insertInto('recording_chunks')
      .values([
        {
          recording_id: 'rec_orphan00001',
          segment: 0,
          n: 0,
          data: Buffer.from('{"version":2,"width":80,"height":24}\n'),
        },
        {
          recording_id: 'rec_orphan00001',
          segment: 0,
          n: 1,
          data: Buffer.from('[0.1,"o","whole"]\n[0.2,"o","cut of'),
        },
      ])
      .execute();
    // Two servers sweep at once: one seals, one event.
    const one = createRecordingModule({ ...h.stint.deps, storeId: h.storeId });
    const two = createRecordingModule({ ...h.stint.deps, storeId: h.storeId });
    const done = await Promise.all([one.recover(), two.recover()]);
    expect(done[0] + done[1]).toBeGreaterThanOrEqual(1);
    const [segment] = await recordingStore.segmentsOf(db, 'rec_orphan00001');
    expect(segment).toMatchObject({ state: 'sealed', recovered: 1 });
    const text = (await one.storage.read('rec_orphan00001', 0)).toString();
    expect(text.endsWith('[0.1,"o","whole"]\n')).toBe(true);
    expect(parseAsciicast(text).events).toHaveLength(1);
    const events = await h.stint.deps.store.db
      .selectFrom('audit_events')
      .select('body')
      .where('action', '=', 'recording.segment')
      .execute();
    expect(events.filter((e) => e.body?.includes('rec_orphan00001'))).toHaveLength(1);
    expect((await recordingStore.getSession(db, 'ses_orphan00001'))?.end_reason).toBe(
      'proxy stopped (recording recovered)',
    );
  });
});

describe('settings', () => {
  it('reads the proxy, storage and review settings, and names a bad variable', () => {
    const config = recordingConfigFromEnv(
      {
        STINT_SSH_PROXY_LISTEN: '0.0.0.0:2222',
        STINT_RECORDINGS: 'store',
        STINT_SESSION_REVIEW_RATE: '0.1',
        STINT_SESSION_REVIEW_INCIDENT_PATTERN: '',
      },
      '/var/lib/stint',
    );
    expect(config).toMatchObject({
      storage: 'store',
      dir: '/var/lib/stint/recordings',
      sshProxy: {
        host: '0.0.0.0',
        port: 2222,
        hostKeyFile: '/var/lib/stint/ssh-proxy-host-key',
        pollMs: 250,
      },
      sampling: { rate: 0.1, incidentPattern: null, dueDays: 7 },
    });
    expect(recordingConfigFromEnv({}, '/d').sshProxy).toBeNull();
    // What users dial, told to them with every SSH take (stint ssh goes through it).
    expect(
      recordingConfigFromEnv(
        { STINT_SSH_PROXY_LISTEN: '0.0.0.0:2222', STINT_SSH_PROXY_ADDRESS: 'proxy.example.com:2222' },
        '/d',
      ).sshProxy?.address,
    ).toBe('proxy.example.com:2222');
    expect(() =>
      loadConfig(
        {},
        { ...VALID, STINT_SSH_PROXY_LISTEN: '0.0.0.0:2222', STINT_SSH_PROXY_ADDRESS: 'proxy:0' },
      ),
    ).toThrow(/STINT_SSH_PROXY_ADDRESS must be host:port/);
    expect(() => loadConfig({}, { ...VALID, STINT_SSH_PROXY_LISTEN: 'nowhere' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: { variable: 'STINT_SSH_PROXY_LISTEN' } }),
    );
    expect(() => loadConfig({}, { ...VALID, STINT_SESSION_REVIEW_RATE: '2' })).toThrow(
      /STINT_SESSION_REVIEW_RATE/,
    );
    expect(() => loadConfig({}, { ...VALID, STINT_RECORDINGS: 'nfs' })).toThrow(
      /STINT_RECORDINGS must be local, store or s3/,
    );
  });
});

const VALID = {
  STINT_POLICY: '/etc/stint.yaml',
  STINT_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
  STINT_AUDIT_SIGNING_KEY: 'x',
  STINT_DATA_DIR: '/tmp/stint-config-test',
};

describe('source-address at the proxy', () => {
  it('holds the user to it, unless it names the proxy itself (then the host holds the proxy to it)', () => {
    const local = ['127.0.0.1', '10.0.5.10'];
    expect(sourceAddressAllows('192.168.0.0/16', '192.168.1.7', local)).toBe(true);
    expect(sourceAddressAllows('192.168.0.0/16', '172.16.0.1', local)).toBe(false);
    expect(sourceAddressAllows('::ffff:0:0/96,192.168.0.0/16', '::ffff:192.168.1.7', local)).toBe(true);
    // "Only through the proxy": any user address passes here; the host checks the proxy's login.
    expect(sourceAddressAllows('10.0.5.10/32', '172.16.0.1', local)).toBe(true);
  });
});
