import { createHash } from 'node:crypto';
import type { TargetOwner } from '../provider.js';
import type { IamBinding } from './iam-api.js';

export const TOKEN_CREATOR = 'roles/iam.serviceAccountTokenCreator';
/** What Stint writes as a condition's description: the ownership mark. A title alone is never trusted. */
export const MARK_PREFIX = 'stint:request=';
const MAX_NAME = 64;

/** `stint-<request id>`, deterministic, so a retry after a crash finds what an earlier attempt left. */
export function principalFor(requestId: string): string {
  const name = `stint-${requestId.replace(/[^A-Za-z0-9_.@-]/g, '_')}`;
  if (requestId.length > 0 && name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(requestId).digest('hex').slice(0, 10);
  return `${name.slice(0, MAX_NAME - 11)}_${hash}`;
}

export const isPrincipalName = (name: string) =>
  name.length <= MAX_NAME && /^stint-[A-Za-z0-9_.@-]+$/.test(name);

export interface Mark {
  requestId: string;
  deployment: string;
  storeId: string;
  principal: string;
}

/** `request.time < timestamp("…")`: IAM itself stops honouring the binding at the window's end. */
export function expiringExpression(expiresAt: Date): string {
  const end = new Date(Math.floor(expiresAt.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  return `request.time < timestamp("${end}")`;
}

/** The binding one grant adds: the requester may mint tokens for the service account until the window's end. */
export function grantBinding(
  member: string,
  principal: string,
  requestId: string,
  owner: TargetOwner,
  expiresAt: Date,
): IamBinding {
  // Within IAM's 256 characters for a description, whatever the deployment's name.
  const description = `${MARK_PREFIX}${requestId};deployment=${owner.deployment.slice(0, 64)};store=${owner.storeId};principal=${principal}`;
  return {
    role: TOKEN_CREATOR,
    members: [member],
    condition: {
      title: `stint ${principal}`.slice(0, 100),
      description,
      expression: expiringExpression(expiresAt),
    },
  };
}

/** Who a binding's condition says made it, or null when it is not Stint's. */
export function readMark(binding: IamBinding): Mark | null {
  const d = binding.condition?.description;
  if (binding.role !== TOKEN_CREATOR || !d?.startsWith(MARK_PREFIX)) return null;
  const [requestId = '', ...fields] = d.slice(MARK_PREFIX.length).split(';');
  const f = Object.fromEntries(fields.map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]));
  if (!requestId || !f.store || !f.principal) return null;
  return { requestId, deployment: f.deployment ?? '', storeId: f.store, principal: f.principal };
}
