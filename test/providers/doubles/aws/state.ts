import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PolicyDocument } from './policy-eval.js';

export const ACCOUNT_ID = '111122223333';
export const INSTANCE_ARN = 'arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6';
const INSTANCE_ID = 'ssoins-7223a1b2c3d4e5f6';

export interface Role {
  name: string;
  path: string;
  arn: string;
  id: string;
  maxSessionDuration: number;
  tags: Map<string, string>;
  /** Inline policies by name, as the JSON text that was put. */
  inline: Map<string, string>;
  /** Managed policies attached: what the role may do. */
  attached: PolicyDocument[];
  /** Trust policy, reduced to what AssumeRole checks: who may assume it and with what. */
  trust: { principals: Set<string>; tagSession: boolean; setSourceIdentity: boolean };
}

/** Temporary credentials minted by AssumeRole (or by the portal for a permission set's role). */
export interface Session {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  roleName: string;
  sessionName: string;
  tags: Record<string, string>;
  sourceIdentity: string | undefined;
  issuedAt: number;
  expiresAt: number;
  /** For a permission set's session: the policy it carries (the SSO role's). */
  permissionSetArn?: string;
}

export interface PermissionSet {
  arn: string;
  name: string;
  /** ISO 8601 duration of sessions made through the portal, as Identity Center has it. */
  sessionDuration: string;
  policy: PolicyDocument;
  tags: Map<string, string>;
  /** Provisioning to an account fails with this reason (a broken policy, say). */
  failsProvisioning?: string;
}

export interface Assignment {
  accountId: string;
  permissionSetArn: string;
  principalType: 'USER' | 'GROUP';
  principalId: string;
}

/** An asynchronous creation or deletion, settled by the clock like Identity Center's provisioning. */
export interface AssignmentOperation {
  requestId: string;
  kind: 'create' | 'delete';
  assignment: Assignment;
  createdAt: number;
  doneAt: number;
  status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';
  failureReason?: string;
}

export interface SsoUser {
  /** Identity Store user id. */
  id: string;
  userName: string;
  /** What the portal's bearer token is for this user (the double's stand-in for an SSO sign-in). */
  portalToken: string;
}

export interface AwsState {
  accountId: string;
  /** Stint's own IAM user: its key is the one the provider is configured with. */
  admin: { arn: string; accessKeyId: string; secretAccessKey: string; policy: PolicyDocument };
  roles: Map<string, Role>;
  sessions: Map<string, Session>;
  permissionSets: Map<string, PermissionSet>;
  assignments: Assignment[];
  operations: Map<string, AssignmentOperation>;
  users: Map<string, SsoUser>;
  /** How long provisioning takes, in ms of the double's clock. */
  provisioningMs: number;
  /** Added to the double's clock when it judges session expiry (not signatures): time travel for tests. */
  clockOffsetMs: number;
}

export const randomId = (prefix: string, n = 16, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') =>
  prefix + Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');

export const roleArn = (path: string, name: string) => `arn:aws:iam::${ACCOUNT_ID}:role${path}${name}`;

const DOCS = fileURLToPath(new URL('../../../../docs/aws-target.md', import.meta.url));
const MARKER = '<!-- stint-aws-admin-policy -->';

/**
 * What docs/aws-target.md says Stint's own principal needs, read from the document itself: the double enforces
 * exactly that, so a call the documented policy does not cover fails the tests, and the two cannot drift apart.
 */
export function documentedAdminPolicy(): PolicyDocument {
  const text = readFileSync(DOCS, 'utf8');
  const at = text.indexOf(MARKER);
  const block = /```json\n([\s\S]*?)\n```/.exec(text.slice(at));
  if (at < 0 || !block?.[1]) throw new Error(`docs/aws-target.md has no json block after ${MARKER}`);
  return JSON.parse(block[1]) as PolicyDocument;
}

const READ_ONLY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['iam:Get*', 'iam:List*'], Resource: '*' }],
};

function role(state: AwsState, path: string, name: string, opts: Partial<Role> = {}): Role {
  const r: Role = {
    name,
    path,
    arn: roleArn(path, name),
    id: randomId('AROA', 17),
    maxSessionDuration: 3600,
    tags: new Map(),
    inline: new Map(),
    attached: [READ_ONLY],
    trust: { principals: new Set([state.admin.arn]), tagSession: true, setSourceIdentity: true },
    ...opts,
  };
  state.roles.set(name, r);
  return r;
}

export const permissionSetArn = (id: string) => `arn:aws:sso:::permissionSet/${INSTANCE_ID}/${id}`;

/**
 * One account as the tests find it: roles Stint may grant under /stint/ (one it may not assume, one allowing
 * 12-hour sessions), a standing role outside Stint's path, an Identity Center instance with permission sets
 * (one whose provisioning fails) and users who sign in to the portal.
 */
export function seedState(): AwsState {
  const state: AwsState = {
    accountId: ACCOUNT_ID,
    admin: {
      arn: `arn:aws:iam::${ACCOUNT_ID}:user/stint`,
      accessKeyId: randomId('AKIA', 16),
      secretAccessKey: randomBytes(30).toString('base64'),
      policy: documentedAdminPolicy(),
    },
    roles: new Map(),
    sessions: new Map(),
    permissionSets: new Map(),
    assignments: [],
    operations: new Map(),
    users: new Map(),
    provisioningMs: 25,
    clockOffsetMs: 0,
  };
  role(state, '/stint/', 'StintRead');
  role(state, '/stint/', 'StintLong', { maxSessionDuration: 43_200 });
  role(state, '/stint/', 'StintUntrusting', {
    trust: { principals: new Set(), tagSession: false, setSourceIdentity: false },
  });
  role(state, '/ops/', 'OpsStanding', { tags: new Map([['team', 'ops']]) });

  const ps = (id: string, name: string, extra: Partial<PermissionSet> = {}) =>
    state.permissionSets.set(permissionSetArn(id), {
      arn: permissionSetArn(id),
      name,
      sessionDuration: 'PT1H',
      policy: READ_ONLY,
      tags: new Map(),
      ...extra,
    });
  ps('ps-0123456789abcdef', 'ReadOnly');
  ps('ps-1123456789abcdef', 'Billing', {
    policy: { Statement: [{ Effect: 'Allow', Action: 'aws-portal:View*', Resource: '*' }] },
  });
  ps('ps-2123456789abcdef', 'Broken', {
    failsProvisioning: 'Received a 400 status error: the permission set policy is malformed',
  });
  for (const userName of ['contract', 'alice', 'bob', 'carol']) {
    state.users.set(userName, {
      id: `9067642ac7-${[4, 2, 2, 2, 6].map((n) => randomBytes(n).toString('hex')).join('-')}`,
      userName,
      portalToken: randomBytes(24).toString('base64url'),
    });
  }
  return state;
}

export const READ_ONLY_PERMISSION_SET = permissionSetArn('ps-0123456789abcdef');
export const BILLING_PERMISSION_SET = permissionSetArn('ps-1123456789abcdef');
export const BROKEN_PERMISSION_SET = permissionSetArn('ps-2123456789abcdef');
export const MISSING_PERMISSION_SET = permissionSetArn('ps-9999999999999999');

/** Settles every operation whose time has come, as Identity Center's provisioning would have by now. */
export function settle(state: AwsState, now: number): void {
  for (const op of state.operations.values()) {
    if (op.status !== 'IN_PROGRESS' || op.doneAt > now) continue;
    const a = op.assignment;
    const same = (b: Assignment) =>
      b.accountId === a.accountId &&
      b.permissionSetArn === a.permissionSetArn &&
      b.principalId === a.principalId &&
      b.principalType === a.principalType;
    const ps = state.permissionSets.get(a.permissionSetArn);
    if (op.kind === 'create' && ps?.failsProvisioning) {
      op.status = 'FAILED';
      op.failureReason = ps.failsProvisioning;
      continue;
    }
    if (op.kind === 'create' && !state.assignments.some(same)) state.assignments.push({ ...a });
    if (op.kind === 'delete') state.assignments = state.assignments.filter((b) => !same(b));
    op.status = 'SUCCEEDED';
  }
}
