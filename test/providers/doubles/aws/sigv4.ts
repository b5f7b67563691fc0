import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/** A key the double knows: its secret half is what it recomputes every signature with. */
export interface KnownKey {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials: the request must carry this token, and it is part of what is signed. */
  sessionToken?: string;
}

/** A request as it arrived on the wire. */
export interface WireRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased names, values as received. */
  headers: Record<string, string>;
  body: Buffer;
}

export type SigV4Check =
  | { ok: true; key: KnownKey; region: string; service: string }
  | {
      ok: false;
      code: 'MissingAuthenticationToken' | 'InvalidClientTokenId' | 'SignatureDoesNotMatch';
      message: string;
    };

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
/** AWS refuses a request signed more than 15 minutes from its own clock. */
const MAX_SKEW_MS = 15 * 60_000;

const refuse = (code: Extract<SigV4Check, { ok: false }>['code'], message: string): SigV4Check => ({
  ok: false,
  code,
  message,
});

/**
 * Checks an AWS Signature Version 4 the way AWS does: the key id must be known, the scope well formed and the date
 * fresh, the body must hash to what the client declared, and the signature recomputed from the known secret with
 * @smithy/signature-v4 (the SDK's own signer, fed only the headers the client listed) must match byte for byte.
 */
export async function checkSigV4(
  req: WireRequest,
  lookup: (accessKeyId: string) => KnownKey | undefined,
  now: Date = new Date(),
): Promise<SigV4Check> {
  const auth = req.headers.authorization;
  if (!auth) return refuse('MissingAuthenticationToken', 'Request is missing Authentication Token');
  const m = AUTHORIZATION.exec(auth);
  if (!m) return refuse('SignatureDoesNotMatch', 'Authorization header is not a SigV4 header');
  const [, accessKeyId = '', scopeDate, region = '', service = '', signedList = '', signature = ''] = m;
  const key = lookup(accessKeyId);
  if (!key) return refuse('InvalidClientTokenId', 'The security token included in the request is invalid.');
  if (key.sessionToken !== undefined && req.headers['x-amz-security-token'] !== key.sessionToken)
    return refuse('InvalidClientTokenId', 'The security token included in the request is invalid.');

  const amzDate = req.headers['x-amz-date'] ?? '';
  const d = AMZ_DATE.exec(amzDate);
  if (!d) return refuse('SignatureDoesNotMatch', 'X-Amz-Date is missing or malformed');
  const [y, mo, day, h, mi, sec] = d.slice(1).map(Number) as [number, number, number, number, number, number];
  const signingDate = new Date(Date.UTC(y, mo - 1, day, h, mi, sec));
  if (amzDate.slice(0, 8) !== scopeDate)
    return refuse('SignatureDoesNotMatch', 'Credential scope date does not match X-Amz-Date');
  if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_SKEW_MS)
    return refuse(
      'SignatureDoesNotMatch',
      'Signature expired: the request time is too far from the server time',
    );

  const signed = signedList.split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date'))
    return refuse('SignatureDoesNotMatch', 'host and x-amz-date must be signed');
  const declaredHash = req.headers['x-amz-content-sha256'];
  if (declaredHash !== undefined && declaredHash !== createHash('sha256').update(req.body).digest('hex'))
    return refuse('SignatureDoesNotMatch', 'The body does not hash to x-amz-content-sha256');

  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = req.headers[name];
    if (value === undefined) return refuse('SignatureDoesNotMatch', `signed header ${name} is missing`);
    headers[name] = value;
  }
  const [hostname = '', port] = (req.headers.host ?? '').split(':');
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      ...(key.sessionToken !== undefined ? { sessionToken: key.sessionToken } : {}),
    },
    region,
    service,
    sha256: Sha256,
    applyChecksum: false,
  });
  const recomputed = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname,
      ...(port ? { port: Number(port) } : {}),
      path: req.path,
      query: req.query,
      headers,
      body: req.body.toString('utf8'),
    },
    { signingDate, signingRegion: region, signingService: service, signableHeaders: new Set(signed) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(recomputed.headers.authorization))?.[1] ?? '';
  const match =
    expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
  if (!match)
    return refuse(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  return { ok: true, key, region, service };
}
