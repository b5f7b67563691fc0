import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ClaimNames } from './claims-source.js';
import { LDAP_DEFAULTS, type LdapConfig } from './ldap-source.js';
import type { RoleGroups, ScimIdAttribute } from './scim-source.js';

/**
 * Directory configuration from the environment, parsed once at start-up. SCIM is on when STINT_SCIM_TOKEN is
 * set, LDAP when STINT_LDAP_URL is; neither → the YAML directory of the policy alone. A half-configured source
 * stops the server with a message naming the variable.
 */
export interface DirectoryConfig {
  groups: RoleGroups;
  scim: { token: string; idAttribute: ScimIdAttribute } | null;
  ldap: LdapConfig | null;
  /** Directory facts from OIDC claims at sign-in (STINT_OIDC_CLAIMS_DIRECTORY=1), or null. */
  claims: ClaimNames | null;
}

const seconds = (name: string, min: number) =>
  z.coerce
    .number({ error: `${name} must be a number of seconds` })
    .int()
    .min(min, `${name} must be at least ${min}`);

const schema = z.object({
  STINT_DIRECTORY_SECURITY_GROUP: z.string().min(1).default('security'),
  STINT_DIRECTORY_AUDITOR_GROUP: z.string().min(1).default('auditor'),
  STINT_DIRECTORY_ADMIN_GROUP: z.string().min(1).default('admin'),
  STINT_DIRECTORY_ONCALL_GROUP: z.string().min(1).default('on-call'),
  STINT_OIDC_CLAIMS_DIRECTORY: z.enum(['0', '1', 'true', 'false']).default('0'),
  STINT_OIDC_CLAIM_ID: z.string().min(1).optional(),
  STINT_OIDC_CLAIM_MANAGER: z.string().min(1).optional(),
  STINT_OIDC_CLAIM_GROUPS: z.string().min(1).optional(),
  STINT_SCIM_TOKEN: z.string().min(32, 'STINT_SCIM_TOKEN must be at least 32 characters').optional(),
  STINT_SCIM_ID_ATTRIBUTE: z.enum(['userName', 'externalId', 'emailLocalPart']).default('userName'),
  STINT_LDAP_URL: z
    .string()
    .regex(/^ldaps?:\/\/[^/]+\/?$/, 'STINT_LDAP_URL must be ldap://host:port or ldaps://host:port')
    .optional(),
  STINT_LDAP_BIND_DN: z.string().min(1).optional(),
  STINT_LDAP_STARTTLS: z.enum(['true', 'false']).default('false'),
  STINT_LDAP_CA_FILE: z.string().min(1).optional(),
  STINT_LDAP_USER_BASE: z.string().min(1).optional(),
  STINT_LDAP_USER_FILTER: z.string().min(1).default(LDAP_DEFAULTS.userFilter),
  STINT_LDAP_GROUP_BASE: z.string().min(1).optional(),
  STINT_LDAP_GROUP_FILTER: z.string().min(1).default(LDAP_DEFAULTS.groupFilter),
  STINT_LDAP_ATTR_ID: z.string().min(1).default(LDAP_DEFAULTS.attributes.id),
  STINT_LDAP_ATTR_EMAIL: z.string().min(1).default(LDAP_DEFAULTS.attributes.email),
  STINT_LDAP_ATTR_NAME: z.string().min(1).default(LDAP_DEFAULTS.attributes.name),
  STINT_LDAP_ATTR_MANAGER: z.string().min(1).default(LDAP_DEFAULTS.attributes.manager),
  STINT_LDAP_ATTR_MEMBER_OF: z.string().min(1).optional(),
  STINT_LDAP_GROUP_NAME_ATTR: z.string().min(1).default(LDAP_DEFAULTS.attributes.groupName),
  /** Comma-separated. */
  STINT_LDAP_GROUP_MEMBER_ATTR: z.string().min(1).default(LDAP_DEFAULTS.attributes.groupMember.join(',')),
  STINT_LDAP_SYNC_INTERVAL: seconds('STINT_LDAP_SYNC_INTERVAL', 10).default(LDAP_DEFAULTS.intervalMs / 1000),
  STINT_LDAP_TIMEOUT: seconds('STINT_LDAP_TIMEOUT', 1).default(LDAP_DEFAULTS.timeoutMs / 1000),
  STINT_LDAP_MAX_STALE: seconds('STINT_LDAP_MAX_STALE', 60).default(LDAP_DEFAULTS.maxStaleMs / 1000),
});

function bindPassword(env: NodeJS.ProcessEnv): string | null {
  if (env.STINT_LDAP_BIND_PASSWORD) return env.STINT_LDAP_BIND_PASSWORD;
  // Trailing newline from `echo > file` is not part of the password.
  if (env.STINT_LDAP_BIND_PASSWORD_FILE)
    return readFileSync(env.STINT_LDAP_BIND_PASSWORD_FILE, 'utf8').replace(/\r?\n$/, '');
  return null;
}

export function directoryConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DirectoryConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`directory configuration: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  const groups = {
    security: c.STINT_DIRECTORY_SECURITY_GROUP,
    auditor: c.STINT_DIRECTORY_AUDITOR_GROUP,
    admin: c.STINT_DIRECTORY_ADMIN_GROUP,
    onCall: c.STINT_DIRECTORY_ONCALL_GROUP,
  };
  const claimsOn = c.STINT_OIDC_CLAIMS_DIRECTORY === '1' || c.STINT_OIDC_CLAIMS_DIRECTORY === 'true';
  const claimVars = (
    ['STINT_OIDC_CLAIM_ID', 'STINT_OIDC_CLAIM_MANAGER', 'STINT_OIDC_CLAIM_GROUPS'] as const
  ).filter((k) => c[k] !== undefined);
  if (!claimsOn && claimVars.length > 0) {
    throw new Error(
      `directory configuration: ${claimVars.join(', ')} given without STINT_OIDC_CLAIMS_DIRECTORY=1`,
    );
  }
  const claims: ClaimNames | null = claimsOn
    ? {
        id: c.STINT_OIDC_CLAIM_ID ?? 'preferred_username',
        manager: c.STINT_OIDC_CLAIM_MANAGER ?? 'manager',
        groups: c.STINT_OIDC_CLAIM_GROUPS ?? 'groups',
      }
    : null;
  let ldap: LdapConfig | null = null;
  if (c.STINT_LDAP_URL !== undefined) {
    if (c.STINT_LDAP_USER_BASE === undefined) {
      throw new Error('directory configuration: STINT_LDAP_USER_BASE is required with STINT_LDAP_URL');
    }
    const password = bindPassword(env);
    if (c.STINT_LDAP_BIND_DN !== undefined && password === null) {
      throw new Error(
        'directory configuration: STINT_LDAP_BIND_PASSWORD or STINT_LDAP_BIND_PASSWORD_FILE is required with STINT_LDAP_BIND_DN',
      );
    }
    const startTls = c.STINT_LDAP_STARTTLS === 'true';
    const host = new URL(c.STINT_LDAP_URL).hostname;
    const loopback = host === 'localhost' || host === '[::1]' || host.startsWith('127.');
    if (
      c.STINT_LDAP_URL.startsWith('ldap://') &&
      !startTls &&
      c.STINT_LDAP_BIND_DN !== undefined &&
      !loopback
    ) {
      // The bind password would cross the network in clear text.
      throw new Error(
        'directory configuration: binding to a remote LDAP server needs ldaps:// or STINT_LDAP_STARTTLS=true',
      );
    }
    ldap = {
      url: c.STINT_LDAP_URL,
      startTls,
      ca: c.STINT_LDAP_CA_FILE === undefined ? null : readFileSync(c.STINT_LDAP_CA_FILE, 'utf8'),
      bindDN: c.STINT_LDAP_BIND_DN ?? null,
      bindPassword: password,
      userBase: c.STINT_LDAP_USER_BASE,
      userFilter: c.STINT_LDAP_USER_FILTER,
      groupBase: c.STINT_LDAP_GROUP_BASE ?? null,
      groupFilter: c.STINT_LDAP_GROUP_FILTER,
      attributes: {
        id: c.STINT_LDAP_ATTR_ID,
        email: c.STINT_LDAP_ATTR_EMAIL,
        name: c.STINT_LDAP_ATTR_NAME,
        manager: c.STINT_LDAP_ATTR_MANAGER,
        memberOf: c.STINT_LDAP_ATTR_MEMBER_OF ?? null,
        groupName: c.STINT_LDAP_GROUP_NAME_ATTR,
        groupMember: c.STINT_LDAP_GROUP_MEMBER_ATTR.split(',')
          .map((x) => x.trim())
          .filter((x) => x !== ''),
      },
      groups,
      intervalMs: c.STINT_LDAP_SYNC_INTERVAL * 1000,
      timeoutMs: c.STINT_LDAP_TIMEOUT * 1000,
      maxStaleMs: c.STINT_LDAP_MAX_STALE * 1000,
    };
  }
  return {
    groups,
    scim:
      c.STINT_SCIM_TOKEN === undefined
        ? null
        : { token: c.STINT_SCIM_TOKEN, idAttribute: c.STINT_SCIM_ID_ATTRIBUTE },
    ldap,
    claims,
  };
}
