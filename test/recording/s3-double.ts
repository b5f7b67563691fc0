import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { checkSigV4, type KnownKey } from '../providers/doubles/aws/sigv4.js';

/** One request as the double saw it. */
export interface S3Call {
  method: string;
  /** `PutObject`, `GetObject`, `ListObjectsV2`, `DeleteObjects`, `HeadBucket`, or `?` for anything else. */
  op: string;
  key: string;
  status: number;
  /** The error code answered, when not 2xx. */
  code?: string;
  headers: Record<string, string>;
}

export interface S3Double {
  url: string;
  region: string;
  /** The credentials the double accepts (the only ones). */
  credentials: KnownKey;
  /** bucket → key → bytes. */
  buckets: Map<string, Map<string, Buffer>>;
  calls: S3Call[];
  /** Keys per ListObjectsV2 page (S3's is 1000): small, to make the SDK's callers page. */
  pageSize: number;
  /** The next request whose op is `op` fails with this status and code. */
  failNext(op: string, status: number, code: string): void;
  close(): Promise<void>;
}

const CHECKSUMS: Record<string, (body: Buffer) => string> = {
  'x-amz-checksum-sha256': (b) => createHash('sha256').update(b).digest('base64'),
  'x-amz-checksum-crc32': (b) => {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(crc32(b));
    return n.toString('base64');
  },
  'content-md5': (b) => createHash('md5').update(b).digest('base64'),
};

const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const xmlUnescape = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

class S3Fault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A local S3 for the official SDK (path-style, pointed at it through `endpoint`): just the calls the recording
 * storage makes. Every request is checked as S3 checks it: the SigV4 signature recomputed with the SDK's own signer
 * from the only secret the double knows (service `s3`, the double's region), the body against the signed
 * x-amz-content-sha256, every checksum header sent (SHA-256, CRC32, Content-MD5) against the body, DeleteObjects
 * refused without one (as S3 does), the bucket named in the path existing, If-None-Match honoured. The keys Stint
 * writes are of [A-Za-z0-9_./-] only, where S3's canonical URI (encoded once) and the shared checker's (encoded
 * twice, as every other AWS service signs) are the same text.
 */
export async function startS3Double(opts: { buckets?: string[]; region?: string } = {}): Promise<S3Double> {
  const region = opts.region ?? 'eu-west-1';
  const credentials: KnownKey = {
    accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64'),
  };
  const buckets = new Map((opts.buckets ?? ['recordings']).map((b) => [b, new Map<string, Buffer>()]));
  const calls: S3Call[] = [];
  const faults = new Map<string, { status: number; code: string }>();

  function opOf(method: string, key: string, query: URLSearchParams): string {
    if (key === '') {
      if (method === 'HEAD') return 'HeadBucket';
      if (method === 'GET' && query.get('list-type') === '2') return 'ListObjectsV2';
      if (method === 'POST' && query.has('delete')) return 'DeleteObjects';
      return '?';
    }
    return (
      ({ PUT: 'PutObject', GET: 'GetObject', HEAD: 'HeadObject' } as Record<string, string>)[method] ?? '?'
    );
  }

  async function handle(
    req: IncomingMessage,
    body: Buffer,
    call: S3Call,
  ): Promise<[number, Record<string, string>, Buffer | string]> {
    const url = new URL(req.url ?? '/', 'http://double');
    const [, bucketName = '', ...rest] = url.pathname.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    call.key = key;
    call.op = opOf(call.method, key, url.searchParams);
    const check = await checkSigV4(
      {
        method: call.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: call.headers,
        body,
      },
      (id) => (id === credentials.accessKeyId ? credentials : undefined),
    );
    if (!check.ok)
      throw new S3Fault(
        403,
        check.code === 'InvalidClientTokenId' ? 'InvalidAccessKeyId' : check.code,
        check.message,
      );
    if (check.service !== 's3' || check.region !== region)
      throw new S3Fault(
        400,
        'AuthorizationHeaderMalformed',
        `scope must be ${region}/s3, not ${check.region}/${check.service}`,
      );
    // The payload is signed, never UNSIGNED-PAYLOAD: checkSigV4 has compared it with the body.
    if (!/^[0-9a-f]{64}$/.test(call.headers['x-amz-content-sha256'] ?? ''))
      throw new S3Fault(400, 'InvalidRequest', 'x-amz-content-sha256 must be the payload SHA-256');
    for (const [header, sum] of Object.entries(CHECKSUMS)) {
      const sent = call.headers[header];
      if (sent !== undefined && sent !== sum(body))
        throw new S3Fault(
          400,
          header === 'content-md5' ? 'BadDigest' : 'BadDigest',
          `${header} does not match the body`,
        );
    }
    const fault = faults.get(call.op);
    if (fault) {
      faults.delete(call.op);
      throw new S3Fault(fault.status, fault.code, 'injected');
    }
    const bucket = buckets.get(bucketName);
    if (!bucket) throw new S3Fault(404, 'NoSuchBucket', 'The specified bucket does not exist');

    switch (call.op) {
      case 'HeadBucket':
        return [200, {}, ''];
      case 'PutObject': {
        if (call.headers['if-none-match'] === '*' && bucket.has(key))
          throw new S3Fault(
            412,
            'PreconditionFailed',
            'At least one of the pre-conditions you specified did not hold',
          );
        bucket.set(key, body);
        return [200, { etag: `"${createHash('md5').update(body).digest('hex')}"` }, ''];
      }
      case 'GetObject': {
        const data = bucket.get(key);
        if (!data) throw new S3Fault(404, 'NoSuchKey', 'The specified key does not exist.');
        return [
          200,
          { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
          data,
        ];
      }
      case 'ListObjectsV2': {
        const prefix = url.searchParams.get('prefix') ?? '';
        const after = url.searchParams.get('continuation-token');
        const all = [...bucket.keys()].filter((k) => k.startsWith(prefix)).sort();
        const from = after ? all.findIndex((k) => k > Buffer.from(after, 'base64url').toString()) : 0;
        const page = from < 0 ? [] : all.slice(from, from + double.pageSize);
        const truncated = from >= 0 && from + page.length < all.length;
        const last = page.at(-1) ?? '';
        const xml = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucketName}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${double.pageSize}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${truncated ? `<NextContinuationToken>${Buffer.from(last).toString('base64url')}</NextContinuationToken>` : ''}${page
          .map(
            (k) =>
              `<Contents><Key>${xmlEscape(k)}</Key><Size>${bucket.get(k)?.length ?? 0}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
          )
          .join('')}</ListBucketResult>`;
        return [200, { 'content-type': 'application/xml' }, xml];
      }
      case 'DeleteObjects': {
        if (!Object.keys(CHECKSUMS).some((h) => call.headers[h] !== undefined))
          throw new S3Fault(
            400,
            'InvalidRequest',
            'Missing required header for this request: Content-MD5 or x-amz-checksum-*',
          );
        const keys = [...body.toString().matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) =>
          xmlUnescape(m[1] ?? ''),
        );
        if (keys.length === 0 || keys.length > 1000)
          throw new S3Fault(400, 'MalformedXML', ' 1 to 1000 keys');
        for (const k of keys) bucket.delete(k);
        const quiet = /<Quiet>true<\/Quiet>/.test(body.toString());
        const xml = `<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${quiet ? '' : keys.map((k) => `<Deleted><Key>${xmlEscape(k)}</Key></Deleted>`).join('')}</DeleteResult>`;
        return [200, { 'content-type': 'application/xml' }, xml];
      }
      default:
        throw new S3Fault(
          501,
          'NotImplemented',
          `${call.method} ${url.pathname}${url.search} is not in this double`,
        );
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
      const call: S3Call = { method: req.method ?? 'GET', op: '?', key: '', status: 0, headers };
      calls.push(call);
      handle(req, Buffer.concat(chunks), call).then(
        ([status, h, body]) => {
          call.status = status;
          res.writeHead(status, h).end(req.method === 'HEAD' ? undefined : body);
        },
        (e: unknown) => {
          const f = e instanceof S3Fault ? e : new S3Fault(500, 'InternalError', String(e));
          call.status = f.status;
          call.code = f.code;
          const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${f.code}</Code><Message>${xmlEscape(f.message)}</Message></Error>`;
          res
            .writeHead(f.status, { 'content-type': 'application/xml' })
            .end(req.method === 'HEAD' ? undefined : xml);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const double: S3Double = {
    url: `http://127.0.0.1:${port}`,
    region,
    credentials,
    buckets,
    calls,
    pageSize: 1000,
    failNext: (op, status, code) => faults.set(op, { status, code }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return double;
}
