import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isStintError } from '../../src/domain/errors.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { scramSha256Verifier } from '../../src/providers/postgres/scram.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import { parseVerifier, ScramFailed, ScramServer } from '../../src/recording/pg-proxy/scram.js';
import { type StatementEntry, StatementLog } from '../../src/recording/pg-proxy/statement-log.js';
import { backendDecoder, Framer, MalformedPacket } from '../../src/recording/pg-proxy/wire.js';
import { recordingConfigFromEnv } from '../../src/recording/recording-config.js';
import { pgPolicy } from './pg-fixture.js';

/** The proxy's parts on their own: policy and settings validation, framing, SCRAM's refusals, the log's pairing. */

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

const kinds = createKindRegistry().kinds;

describe('settings', () => {
  it('validates a resource’s proxy block where it is written', () => {
    const bad = pgPolicy(6432).replace('port: 6432 }', 'port: 6432, redactParameters: maybe }');
    const e = caught(() => parsePolicy(bad, 'policy.yaml', kinds));
    expect(isStintError(e)).toBe(true);
    expect(e.message).toMatch(/policy\.yaml:\d+:\d+/);
    expect(e.message).toContain('must be true or false');
    const noPort = pgPolicy(6432).replace(', port: 6432 }', ' }');
    expect(caught(() => parsePolicy(noPort, 'policy.yaml', kinds)).message).toMatch(
      /policy\.yaml:\d+:\d+.*port/s,
    );
    const policy = parsePolicy(pgPolicy(6432), 'policy.yaml', kinds);
    expect(policy.resources.get('appdb')?.options).toMatchObject({
      proxy: { host: '127.0.0.1', port: 6432, redactParameters: true, onRecordingFailure: 'end-session' },
    });
  });

  it('reads STINT_PG_PROXY_* and refuses what it cannot use', () => {
    const c = recordingConfigFromEnv({ STINT_PG_PROXY_LISTEN: '0.0.0.0:6432' }, '/data');
    expect(c.pgProxy).toEqual({
      host: '0.0.0.0',
      port: 6432,
      certFile: '/data/pg-proxy-cert.pem',
      keyFile: '/data/pg-proxy-key.pem',
      pollMs: 250,
    });
    expect(recordingConfigFromEnv({}, '/data').pgProxy).toBeNull();
    expect(caught(() => recordingConfigFromEnv({ STINT_PG_PROXY_LISTEN: '6432' }, '/d')).message).toContain(
      'STINT_PG_PROXY_LISTEN must be host:port',
    );
    const half = { STINT_PG_PROXY_LISTEN: '[::1]:6432', STINT_PG_PROXY_TLS_CERT_FILE: '/c.pem' };
    expect(caught(() => recordingConfigFromEnv(half, '/d')).message).toContain('set together');
  });
});

describe('framing', () => {
  const messages = Buffer.concat([
    Buffer.from([0x51, 0, 0, 0, 14]),
    Buffer.from('SELECT 1;\0'),
    Buffer.from([0x53, 0, 0, 0, 4]),
    Buffer.from([0x58, 0, 0, 0, 4]),
  ]);

  it('cuts the same messages whatever the chunks, forwarding exactly the bytes of whole ones', () => {
    for (let cut = 1; cut < messages.length; cut++) {
      for (let cut2 = cut; cut2 < messages.length; cut2++) {
        const f = new Framer();
        const parts = [messages.subarray(0, cut), messages.subarray(cut, cut2), messages.subarray(cut2)];
        const got = parts.map((p) => f.push(p));
        expect(got.flatMap((g) => g.frames.map((x) => String.fromCharCode(x.type)))).toEqual(['Q', 'S', 'X']);
        expect(Buffer.concat(got.map((g) => g.whole))).toEqual(messages);
      }
    }
  });

  it('refuses a length out of bounds as soon as the header is in', () => {
    expect(() => new Framer().push(Buffer.from([0x51, 0, 0, 0, 3]))).toThrow(MalformedPacket);
    const f = new Framer();
    f.push(Buffer.from([0x51, 0x10]));
    expect(() => f.push(Buffer.from([0, 0, 0]))).toThrow(/out of bounds/);
  });
});

describe('SCRAM, the proxy as server', () => {
  const clientSide = (password: string, serverFirst: string, clientFirstBare: string, gs2: string) => {
    const [, r, s, i] = /^r=([^,]+),s=([^,]+),i=(\d+)/.exec(serverFirst) ?? [];
    const salted = pbkdf2Sync(password, Buffer.from(s as string, 'base64'), Number(i), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const withoutProof = `c=${Buffer.from(gs2).toString('base64')},r=${r}`;
    const auth = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const sig = createHmac('sha256', createHash('sha256').update(clientKey).digest()).update(auth).digest();
    return `${withoutProof},p=${Buffer.from(clientKey.map((b, k) => b ^ (sig[k] as number))).toString('base64')}`;
  };

  it('accepts the right secret and refuses a wrong one, a replayed nonce and a stripped channel binding', async () => {
    const verifier = parseVerifier(await scramSha256Verifier('the-proxy-secret'));
    const ok = new ScramServer(verifier, null);
    const first = ok.first('SCRAM-SHA-256', 'n,,n=,r=abc');
    expect(ok.final(clientSide('the-proxy-secret', first, 'n=,r=abc', 'n,,'))).toMatch(/^v=/);

    const wrong = new ScramServer(verifier, null);
    const f2 = wrong.first('SCRAM-SHA-256', 'n,,n=,r=abc');
    expect(() => wrong.final(clientSide('guess', f2, 'n=,r=abc', 'n,,'))).toThrow('wrong secret');

    const replay = new ScramServer(verifier, null);
    replay.first('SCRAM-SHA-256', 'n,,n=,r=abc');
    expect(() => replay.final(clientSide('the-proxy-secret', first, 'n=,r=abc', 'n,,'))).toThrow(ScramFailed);

    // On TLS the proxy offers -PLUS: a client saying "y" (it could bind but thinks we cannot) was downgraded.
    const bound = new ScramServer(verifier, Buffer.alloc(32, 7));
    expect(bound.mechanisms()).toEqual(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
    expect(() => bound.first('SCRAM-SHA-256', 'y,,n=,r=abc')).toThrow('downgraded');
    const other = new ScramServer(verifier, Buffer.alloc(32, 7));
    const f3 = other.first('SCRAM-SHA-256-PLUS', 'p=tls-server-end-point,,n=,r=abc');
    // Bound to another certificate (a man in the middle's): refused even with the right secret.
    const gs2 = `p=tls-server-end-point,,${Buffer.alloc(32, 8).toString('latin1')}`;
    expect(() => other.final(clientSide('the-proxy-secret', f3, 'n=,r=abc', gs2))).toThrow('channel binding');
  });
});

describe('the statement log', () => {
  const msg = (type: string, ...parts: (string | number[])[]) => ({
    type: type.charCodeAt(0),
    body: Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(`${p}\0`) : Buffer.from(p)))),
  });
  const backend = (type: string, ...parts: (string | number[])[]) => msg(type, ...parts);

  function logOf() {
    const entries: StatementEntry[] = [];
    const log = new StatementLog(
      { grantId: 'req_1', user: 'alice', role: 'stint_req_1', database: 'app' },
      true,
      () => 0,
      (e) => entries.push(e),
    );
    const decode = backendDecoder();
    return {
      entries,
      client: (m: { type: number; body: Buffer }) => log.client(m.type, m.body),
      server: (m: { type: number; body: Buffer }) => log.server(m.type, m.body, decode),
    };
  }

  it('sums a multi-statement query and skips what the server skipped after an error until Sync', () => {
    const l = logOf();
    l.client(msg('Q', 'UPDATE a SET x = 1; DELETE FROM b'));
    l.server(backend('C', 'UPDATE 2'));
    l.server(backend('C', 'DELETE 3'));
    l.server(backend('Z', [0x49]));
    // A pipeline: two executions then Sync; the first fails, the second is skipped by the server.
    l.client(msg('P', '', 'SELECT 1/$1', [0, 0]));
    l.client(msg('B', '', '', [0, 0, 0, 1, 0, 0, 0, 1, 0x30, 0, 0]));
    l.client(msg('E', '', [0, 0, 0, 0]));
    l.client(msg('P', '', 'SELECT 2', [0, 0]));
    l.client(msg('B', '', '', [0, 0, 0, 0, 0, 0]));
    l.client(msg('E', '', [0, 0, 0, 0]));
    l.client(msg('S'));
    l.server(backend('E', 'SERROR', 'C22012', 'Mdivision by zero', ''));
    l.server(backend('Z', [0x49]));
    expect(l.entries.map((e) => [e.statement, e.rows, e.tags, e.error?.code ?? null])).toEqual([
      ['UPDATE a SET x = 1; DELETE FROM b', 5, ['UPDATE 2', 'DELETE 3'], null],
      ['SELECT 1/$1', null, [], '22012'],
    ]);
    expect(l.entries[1]?.parameters).toEqual([{ bytes: 1 }]);
  });

  it('logs a failed Parse with no Execute, and an error the server sends an idle session', () => {
    const l = logOf();
    l.client(msg('P', 'named', 'SELEC oops', [0, 0]));
    l.client(msg('S'));
    l.server(backend('E', 'SERROR', 'C42601', 'Msyntax error at or near "SELEC"', ''));
    l.server(backend('Z', [0x49]));
    l.server(backend('E', 'SFATAL', 'C57P01', 'Mterminating connection due to administrator command', ''));
    expect(l.entries.map((e) => [e.statement, e.error?.code])).toEqual([
      ['<parse or bind>', '42601'],
      ['<outside any statement>', '57P01'],
    ]);
  });

  it('refuses a Bind whose counts disagree and a message type no client sends', () => {
    const l = logOf();
    // Two formats for one value.
    expect(() => l.client(msg('B', '', '', [0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]))).toThrow(
      /counts disagree/,
    );
    expect(() => l.client(msg('B', '', '', [0, 0, 0, 1, 0, 0, 0, 9, 1]))).toThrow(/truncated/);
    expect(() => l.client({ type: 0x70, body: Buffer.from('x') })).toThrow(/unexpected message type 0x70/);
    expect(() => l.client({ type: 0x51, body: Buffer.from('no terminator') })).toThrow(/unterminated/);
  });
});
