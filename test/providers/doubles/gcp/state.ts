import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';

export const PROJECT = 'stint-test-project';
export const saEmail = (name: string) => `${name}@${PROJECT}.iam.gserviceaccount.com`;
export const TOKEN_CREATOR = 'roles/iam.serviceAccountTokenCreator';

export interface Condition {
  title: string;
  description?: string;
  expression: string;
}

export interface Binding {
  role: string;
  members: string[];
  condition?: Condition;
}

export interface ServiceAccount {
  email: string;
  uniqueId: string;
  policy: { version: number; etag: string; bindings: Binding[] };
  /** What a token of this account may do in the project (the double's stand-in for its project roles). */
  may: Set<'list'>;
}

/** An access token the double minted (a user's sign-in, or generateAccessToken for a service account). */
export interface AccessToken {
  member: string;
  expiresAt: number;
}

export interface GcpState {
  project: string;
  /** Stint's own service account; its key's public half verifies every self-signed JWT. */
  admin: { email: string; keyId: string; publicKey: KeyObject; keyJson: string; privateKey: string };
  serviceAccounts: Map<string, ServiceAccount>;
  /** Users' own OAuth tokens (what `gcloud auth print-access-token` gives them), by user member. */
  userTokens: Map<string, string>;
  tokens: Map<string, AccessToken>;
  clockOffsetMs: number;
}

export const newEtag = () => randomBytes(8).toString('base64');

/** A service account key file as Google issues it, for a key the double knows (or one it does not). */
export function serviceAccountKey(email: string, keyId: string, privateKey: string): string {
  return JSON.stringify({
    type: 'service_account',
    project_id: PROJECT,
    private_key_id: keyId,
    private_key: privateKey,
    client_email: email,
    client_id: '100000000000000000001',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
  });
}

export function newRsaKey(): { privateKey: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey };
}

/**
 * A project as the tests find it: Stint's admin account, two service accounts Stint may let people impersonate
 * (one may list the project's accounts, one may not), and users with tokens of their own.
 */
export function seedGcpState(): GcpState {
  const key = newRsaKey();
  const email = saEmail('stint-admin');
  const keyId = randomBytes(20).toString('hex');
  const sa = (name: string, may: ServiceAccount['may']): [string, ServiceAccount] => [
    saEmail(name),
    {
      email: saEmail(name),
      uniqueId: String(100_000_000_000 + Math.floor(Math.random() * 1e9)),
      policy: { version: 1, etag: newEtag(), bindings: [] },
      may,
    },
  ];
  return {
    project: PROJECT,
    admin: {
      email,
      keyId,
      publicKey: key.publicKey,
      privateKey: key.privateKey,
      keyJson: serviceAccountKey(email, keyId, key.privateKey),
    },
    serviceAccounts: new Map([sa('app-reader', new Set(['list'])), sa('app-auditor', new Set())]),
    userTokens: new Map(
      ['contract', 'alice', 'bob', 'carol'].map((u) => [
        `user:${u}@example.com`,
        `ya29.user-${randomBytes(16).toString('hex')}`,
      ]),
    ),
    tokens: new Map(),
    clockOffsetMs: 0,
  };
}
