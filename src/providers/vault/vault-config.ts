import { z } from 'zod';
import { configError, describeRef, type Env, readConnectionRef } from '../connection-ref.js';
import type { KindConfig } from '../kind.js';
import type { TargetSpec } from '../target-spec.js';

// Messages are fixed strings: zod's defaults could quote the input.
const segment = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, {
  error: 'must be one path segment: letters, digits, "_", "." or "-"',
});
const path = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*$/, {
  error: 'must be a path of segments (letters, digits, "_", "." or "-") joined by "/"',
});

const address = z
  .string()
  .refine((s) => URL.canParse(s), { error: 'must be a URL', abort: true })
  .refine(
    (s) => {
      const u = new URL(s);
      return /^https?:$/.test(u.protocol) && !u.username && !u.password && !u.search && !u.hash;
    },
    { error: 'must be an http(s) URL with no credentials, query or fragment' },
  );

/** The resource's `options` block for `kind: vault`. */
export const vaultOptions = z.strictObject({
  /** Vault's (or OpenBao's) API address, e.g. `https://vault.internal:8200`. */
  address,
  /** Enterprise/OpenBao namespace, sent as `X-Vault-Namespace` on every call. */
  namespace: path.optional(),
  /**
   * How Stint logs in: the connection holds a token (`token`), or an AppRole secret_id whose role_id is given here
   * (`approle`; the role_id is an identifier, not a secret).
   */
  auth: z
    .discriminatedUnion(
      'method',
      [
        z.strictObject({ method: z.literal('token') }),
        z.strictObject({
          method: z.literal('approle'),
          roleId: z.string().min(1, { error: 'must not be empty' }).max(256),
          mount: path.default('approle'),
        }),
      ],
      { error: 'method must be token or approle' },
    )
    .default({ method: 'token' }),
  /** Token role issuing tokens are created under (orphan, allowed_policies): docs/vault-target.md. */
  tokenRole: segment.default('stint'),
  /** Policies of each issuing token: what may read the credential paths, nothing else. */
  tokenPolicies: z.array(segment).min(1, { error: 'must name at least one policy' }).default(['stint-creds']),
  /** KV version 2 mount and prefix where Stint records what it holds (the ownership markers). */
  markerMount: path.default('secret'),
  markerPrefix: path.default('stint'),
  /** POST the credential path with `ttl` = the window (engines that take it, e.g. aws/creds); else GET. */
  requestTtl: z.boolean({ error: 'must be true or false' }).default(false),
});

export type VaultOptions = z.infer<typeof vaultOptions>;

/**
 * A credential path of a secrets engine, as a policy role's grant: `<mount>/creds/<role>` (database, consul,
 * rabbitmq, nomad, azure, …) or `<mount>/sts/<role>` (aws). Never a system or auth path.
 */
const CREDENTIAL_PATH = /^(?:[A-Za-z0-9][A-Za-z0-9_.-]*\/)+(?:creds|sts)\/[A-Za-z0-9][A-Za-z0-9_.@-]*$/;
const RESERVED_MOUNTS = /^(sys|auth|identity|cubbyhole)\//;

/** What the grants schema accepts, checked again at issue: a grant is never a system or auth path. */
export function isCredentialPath(grant: string): boolean {
  return CREDENTIAL_PATH.test(grant) && !RESERVED_MOUNTS.test(grant);
}

export const vaultGrants = z
  .array(
    z
      .string()
      .regex(CREDENTIAL_PATH, {
        error: 'must be a secrets engine credential path: <mount>/creds/<role> or <mount>/sts/<role>',
      })
      .refine((s) => !RESERVED_MOUNTS.test(s), {
        error: 'must not be under sys/, auth/, identity/ or cubbyhole/',
      }),
  )
  .min(1, { error: 'must grant at least one credential path' });

export type VaultAuth =
  | { method: 'token'; token: string }
  | { method: 'approle'; roleId: string; secretId: string; mount: string };

/** What a Vault resource needs, read once when the policy is loaded. */
export interface VaultConfig extends KindConfig {
  resourceId: string;
  /** `<address>/v1`, no trailing slash. */
  apiBase: string;
  namespace: string | null;
  auth: VaultAuth;
  tokenRole: string;
  tokenPolicies: string[];
  markerMount: string;
  markerPrefix: string;
  requestTtl: boolean;
}

/**
 * Checks a Vault resource's connection: the token (or AppRole secret_id) it names must be there. Throws
 * CONFIG_INVALID naming the resource and where it looked, never the value.
 */
export function parseVaultConfig(target: TargetSpec<VaultOptions>, env: Env): VaultConfig {
  const secret = readConnectionRef(target, env);
  const where = target.connection ? describeRef(target.connection) : 'connection';
  if (/\s/.test(secret)) throw configError(target.id, `${where} must hold one token, without spaces`);
  const o = target.options;
  const auth: VaultAuth =
    o.auth.method === 'token'
      ? { method: 'token', token: secret }
      : { method: 'approle', roleId: o.auth.roleId, secretId: secret, mount: o.auth.mount };
  return {
    resourceId: target.id,
    apiBase: `${o.address.replace(/\/+$/, '')}/v1`,
    namespace: o.namespace ?? null,
    auth,
    tokenRole: o.tokenRole,
    tokenPolicies: o.tokenPolicies,
    markerMount: o.markerMount,
    markerPrefix: o.markerPrefix,
    requestTtl: o.requestTtl,
    secrets: [secret],
  };
}
