/**
 * WebAuthn between the server's JSON (base64url strings, as @simplewebauthn/server writes and reads it) and the
 * browser's ArrayBuffers. Written out rather than relying on PublicKeyCredential.parse*FromJSON, which not every
 * browser the portal supports has yet.
 */

const toBytes = (b64url: string): Uint8Array<ArrayBuffer> => {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
  const text = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
};

const toB64url = (buf: ArrayBuffer | null): string | undefined => {
  if (buf === null) return undefined;
  let text = '';
  for (const b of new Uint8Array(buf)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

type Descriptor = { id: string; type?: string; transports?: string[] };
type Json = Record<string, unknown>;

const descriptors = (list: unknown): PublicKeyCredentialDescriptor[] =>
  ((list as Descriptor[] | undefined) ?? []).map((d) => ({
    id: toBytes(d.id),
    type: 'public-key',
    ...(d.transports ? { transports: d.transports as AuthenticatorTransport[] } : {}),
  }));

export function creationOptions(json: Json): PublicKeyCredentialCreationOptions {
  const user = json.user as { id: string; name: string; displayName: string };
  return {
    ...(json as unknown as PublicKeyCredentialCreationOptions),
    challenge: toBytes(json.challenge as string),
    user: { ...user, id: toBytes(user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

export function requestOptions(json: Json): PublicKeyCredentialRequestOptions {
  return {
    ...(json as unknown as PublicKeyCredentialRequestOptions),
    challenge: toBytes(json.challenge as string),
    allowCredentials: descriptors(json.allowCredentials),
  };
}

/** PublicKeyCredential.toJSON(), by hand: what the server's verify routes take. */
export function credentialJson(cred: PublicKeyCredential): {
  id: string;
  rawId: string;
  type: 'public-key';
  response: Json;
} & Json {
  const r = cred.response;
  const response: Json = { clientDataJSON: toB64url(r.clientDataJSON) };
  if ('attestationObject' in r) {
    const att = r as AuthenticatorAttestationResponse;
    response.attestationObject = toB64url(att.attestationObject);
    response.transports = att.getTransports?.() ?? [];
  }
  if ('signature' in r) {
    const assertion = r as AuthenticatorAssertionResponse;
    response.authenticatorData = toB64url(assertion.authenticatorData);
    response.signature = toB64url(assertion.signature);
    const handle = toB64url(assertion.userHandle);
    if (handle !== undefined) response.userHandle = handle;
  }
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId) as string,
    type: 'public-key',
    response,
    clientExtensionResults: cred.getClientExtensionResults(),
    ...(cred.authenticatorAttachment ? { authenticatorAttachment: cred.authenticatorAttachment } : {}),
  };
}
