import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Clock } from '../../domain/clock.js';
import type { AccessRequest } from '../../domain/request.js';
import type { PolicySource } from '../../policy/policy-source.js';
import type { Resource, ResourceRole } from '../../policy/policy-types.js';
import { type GrantRecord, openLedger } from '../../providers/ssh/ledger.js';
import type { SshOptions } from '../../providers/ssh/schemas.js';
import type { StintDatabase } from '../../store/database.js';
import type { GrantRow, GrantStore } from '../../store/grant-store.js';
import type { RequestStore } from '../../store/request-store.js';
import { type CertificateBlob, readCertificateBlob, signedByItsCa } from './certificate-blob.js';
import { verifySshSignature } from './ssh-signature.js';

/** What a login through the proxy proved: a live grant, and the certificate Stint signed for it. */
export interface SessionGrant {
  request: AccessRequest;
  resource: Resource & { options: SshOptions };
  role: ResourceRole;
  /** The grant's principal (`stint-<request id>`), what the ssh kind's ledger knows it by. */
  principal: string;
  expiresAt: Date;
  /** The account on the host the user asked for (one of the certificate's principals). */
  account: string;
  /** How the user proved the grant: its certificate, or its proxy token (proxy-token.ts). */
  login: { method: 'certificate'; certificate: CertificateBlob } | { method: 'token' };
  /** The resource allows it (options.proxy.portForwarding) and the certificate carries permit-port-forwarding. */
  forwarding: boolean;
  /** The certificate carries permit-pty. */
  pty: boolean;
}

/** Why a login was refused: said in the proxy's log and audit trail, never to the client (which learns "denied"). */
export class LoginRefused extends Error {
  override readonly name = 'LoginRefused';
  constructor(
    message: string,
    /** The request the certificate named, when it named one of this store. */
    readonly requestId: string | null = null,
  ) {
    super(message);
  }
}

const KEY_ID = /^stint:request=([^;]+);deployment=([^;]+);store=([^;]+)$/;
/** The critical options sshd understands for user certificates; any other makes it refuse the certificate. */
const KNOWN_CRITICAL = new Set(['force-command', 'source-address', 'verify-required']);

export interface LoginCheckDeps {
  store: StintDatabase;
  requests: Pick<RequestStore, 'get'>;
  grants: Pick<GrantStore, 'get'>;
  policy: PolicySource;
  clock: Clock;
  storeId: string;
}

export interface LoginAttempt {
  username: string;
  /** The algorithm the client named: a certificate type, or the proxy refuses. */
  algorithm: string;
  blob: Buffer;
  clientAddress: string;
  /** Absent on the "would you accept this key" query (RFC 4252 §7), which carries no signature yet. */
  signed?: { data: Buffer; signature: Buffer };
}

/**
 * Decides a login as sshd would for a Stint certificate, and more strictly: the certificate must be one the ssh
 * kind signed for a grant of this store (its serial and key in the kind's ledger, under the CA that ledger names,
 * which must have signed it), the grant must be live in the store (active, inside its window: a revoke anywhere
 * in the deployment shows here at once, KRL or not), the account one of its principals, its critical options
 * understood and met, and the client must prove it holds the certified key.
 */
export async function checkLogin(deps: LoginCheckDeps, attempt: LoginAttempt): Promise<SessionGrant> {
  if (!attempt.algorithm.endsWith('-cert-v01@openssh.com')) {
    throw new LoginRefused('only Stint certificates log in through the proxy');
  }
  let cert: CertificateBlob;
  try {
    cert = readCertificateBlob(attempt.blob);
  } catch (e) {
    throw new LoginRefused(`not a certificate: ${(e as Error).message}`);
  }
  if (cert.certType !== attempt.algorithm)
    throw new LoginRefused('the certificate is not of the algorithm named');
  if (cert.type !== 'user') throw new LoginRefused('not a user certificate');
  const id = KEY_ID.exec(cert.keyId);
  if (!id?.[1]) throw new LoginRefused('the certificate is not Stint’s (key id)');
  const requestId = id[1];
  if (id[3] !== deps.storeId) throw new LoginRefused('the certificate was issued by another Stint store');
  const refuse = (why: string) => new LoginRefused(why, requestId);
  const { request, resource, role, grant, options, record } = await liveGrant(deps, requestId);
  const now = deps.clock();
  if (record.ca !== cert.signatureKey.toString('base64'))
    throw refuse('the certificate is not signed by the resource’s CA');
  const signed = record.certificates.find((c) => c.serial === cert.serial.toString());
  if (!signed || signed.key !== cert.keyFingerprint)
    throw refuse('the ledger has no certificate of this serial and key');
  if (!signedByItsCa(cert)) throw refuse('the certificate’s signature does not verify');

  if (cert.validAfter.getTime() > now.getTime()) throw refuse('the certificate is not yet valid');
  if (cert.validBefore.getTime() <= now.getTime()) throw refuse('the certificate has expired');
  // The accounts sshd would let this certificate in as by default: its principals, and the resource's account
  // (hosts map principals to it with AuthorizedPrincipalsFile). The host still decides, at the proxy's own login.
  const accounts = new Set([...cert.principals, ...(options.user ? [options.user] : [])]);
  if (!accounts.has(attempt.username)) throw refuse(`the certificate lets nobody in as ${attempt.username}`);
  for (const name of cert.criticalOptions.keys()) {
    if (!KNOWN_CRITICAL.has(name)) throw refuse(`unknown critical option ${name}`);
  }
  const from = cert.criticalOptions.get('source-address');
  if (from !== undefined && !sourceAddressAllows(from, attempt.clientAddress, localAddresses())) {
    throw refuse(`source-address does not allow ${attempt.clientAddress}`);
  }
  if (attempt.signed && !verifySshSignature(cert.keyBlob, attempt.signed.data, attempt.signed.signature)) {
    throw refuse('the login signature does not verify');
  }
  return {
    request,
    resource,
    role,
    principal: grant.principal,
    expiresAt: new Date(Math.min(liveUntil(request), cert.validBefore.getTime())),
    account: attempt.username,
    login: { method: 'certificate', certificate: cert },
    forwarding: (options.proxy?.portForwarding ?? false) && cert.extensions.has('permit-port-forwarding'),
    pty: cert.extensions.has('permit-pty'),
  };
}

/** The grant behind a login, live now: read from the store and the ssh kind's ledger, never from a cache. */
export interface LiveGrant {
  request: AccessRequest;
  resource: Resource & { options: SshOptions };
  role: ResourceRole;
  grant: GrantRow;
  options: SshOptions;
  record: GrantRecord;
}

/**
 * The request is `active` and inside its window (read from the store, so a revoke on any server shows at once),
 * on an SSH resource and role of the policy, its grant not being revoked, and the ssh kind's ledger holding it
 * for this store, not revoked.
 */
export async function liveGrant(deps: LoginCheckDeps, requestId: string): Promise<LiveGrant> {
  const refuse = (why: string) => new LoginRefused(why, requestId);
  const db = deps.store.db;
  const request = await deps.requests.get(db, requestId);
  if (!request) throw new LoginRefused('the login names no request of this store');
  const now = deps.clock();
  if (request.state !== 'active') throw refuse(`the grant is ${request.state}`);
  if (!request.expiresAt || request.expiresAt.getTime() <= now.getTime())
    throw refuse('the grant’s window has ended');
  const resource = deps.policy.current().resources.get(request.resource);
  if (resource?.kind !== 'ssh') throw refuse('the grant is not on an SSH resource in the policy');
  const role = resource.roles[request.role];
  if (!role) throw refuse('the grant’s role is not in the policy');
  const grant = await deps.grants.get(db, requestId);
  if (grant?.revocation !== 'none') throw refuse('the grant is not live');
  const options = resource.options as SshOptions;

  // The ssh kind's own record: the grant is this store's, and not revoked.
  const ledger = await openLedger(
    { stateDir: options.stateDir, krlPath: options.krlPath ?? `${options.stateDir}/revoked.krl` },
    { comment: '', keepRevokedMs: 0 },
  ).read();
  const record = ledger.grants[grant.principal];
  if (!record || record.requestId !== requestId || record.storeId !== deps.storeId) {
    throw refuse('the ssh kind’s ledger has no such grant');
  }
  if (record.revokedAt !== null) throw refuse('the grant was revoked');
  return {
    request,
    resource: resource as Resource & { options: SshOptions },
    role,
    grant,
    options,
    record,
  };
}

/** The end of a live grant's window (liveGrant checked it is set). */
export function liveUntil(request: AccessRequest): number {
  return request.expiresAt?.getTime() ?? 0;
}

/**
 * `source-address` at the proxy. A list naming one of this proxy's own addresses says "only through the proxy"
 * (the resource's `sourceAddress` set to the proxy, so users cannot go to the hosts directly): the host enforces it
 * on the proxy's own login, whose certificate carries it too, and the user's address is not held to it. Any other
 * list is what the user's certificate may log in from, and the proxy holds the user to it as sshd would.
 */
export function sourceAddressAllows(list: string, client: string, local: readonly string[]): boolean {
  if (local.some((a) => addressAllowed(a, list))) return true;
  return addressAllowed(client, list);
}

export function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((ifs) => (ifs ?? []).map((i) => i.address));
}

function addressAllowed(address: string, list: string): boolean {
  const ip = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  const family = isIP(ip);
  if (family === 0) return false;
  const blocks = new BlockList();
  for (const entry of list.split(',')) {
    const [addr = '', bits] = entry.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) blocks.addAddress(addr, type);
    else blocks.addSubnet(addr, Number(bits), type);
  }
  return blocks.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}
