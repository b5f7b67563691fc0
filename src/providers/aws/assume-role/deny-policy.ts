import { DeleteRolePolicyCommand, GetRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { StintError } from '../../../domain/errors.js';
import type { AwsTarget } from '../aws-target.js';

/** Session tags every issued session carries: what a deny is conditioned on, and the ownership mark in CloudTrail. */
export const SESSION_TAG = {
  request: 'stint-request',
  store: 'stint-store',
  attempt: 'stint-attempt',
  deployment: 'stint-deployment',
} as const;

/** One inline policy per revoked grant, so no two revocations ever read-modify-write one document. */
export const denyPolicyName = (storeId: string, principal: string) => `stint.${storeId}.${principal}`;

const condition = (requestId: string, storeId: string) => ({
  [`aws:PrincipalTag/${SESSION_TAG.request}`]: requestId,
  [`aws:PrincipalTag/${SESSION_TAG.store}`]: storeId,
});

/**
 * Denies everything to the sessions of one request of one store, and to nothing else: the condition is on the
 * session tags that request's sessions carry, so another person's (or the same person's other) sessions of the same
 * role are untouched. `aws:TokenIssueTime`, AWS's own "revoke older sessions", would cut every session of the role.
 */
export function revokedDocument(requestId: string, storeId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'StintRevokedRequest',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: condition(requestId, storeId) },
      },
    ],
  });
}

/** Denies the sessions of earlier attempts of a request (left by a crash), not the attempt being made. */
export function supersededDocument(requestId: string, storeId: string, attempts: string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'StintSupersededAttempts',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: {
          StringEquals: {
            ...condition(requestId, storeId),
            [`aws:PrincipalTag/${SESSION_TAG.attempt}`]: attempts,
          },
        },
      },
    ],
  });
}

/**
 * Whether a deny document is this store's: every statement is conditioned on this store's session tag. The policy's
 * name carries the store id too, but a name is never the proof.
 */
export function isOwnDeny(document: string, storeId: string): boolean {
  try {
    const parsed = JSON.parse(document) as {
      Statement?: { Condition?: { StringEquals?: Record<string, unknown> } }[];
    };
    const statements = parsed.Statement ?? [];
    const key = `aws:PrincipalTag/${SESSION_TAG.store}`;
    return statements.length > 0 && statements.every((st) => st.Condition?.StringEquals?.[key] === storeId);
  } catch {
    return false;
  }
}

/**
 * Puts (or replaces) the principal's deny. `current` is the document in force when the caller already read it; an
 * inline policy of that name that is not this store's is never replaced.
 */
export async function putDeny(
  t: AwsTarget,
  roleName: string,
  principal: string,
  document: string,
  signal: AbortSignal,
  current?: string | null,
): Promise<void> {
  const existing = current === undefined ? await readDeny(t, roleName, principal, signal) : current;
  if (existing !== null && !isOwnDeny(existing, t.owner.storeId)) {
    throw new StintError(
      'PROVIDER_ERROR',
      `aws target ${t.config.resourceId}: refusing to replace inline policy ${denyPolicyName(t.owner.storeId, principal)} on role ${roleName}: it is not this store's deny`,
      { resource: t.config.resourceId, class: 'refused' },
    );
  }
  await t.send(`deny ${principal} on role ${roleName}`, signal, (o) =>
    t.iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: denyPolicyName(t.owner.storeId, principal),
        PolicyDocument: document,
      }),
      o,
    ),
  );
}

const isGone = (err: unknown) =>
  err instanceof StintError && err.code === 'PROVIDER_ERROR' && err.details?.class === 'gone';

/** The deny document in force for a principal, or null when there is none. */
export async function readDeny(
  t: AwsTarget,
  roleName: string,
  principal: string,
  signal: AbortSignal,
): Promise<string | null> {
  try {
    const out = await t.send(`read the deny of ${principal} on role ${roleName}`, signal, (o) =>
      t.iam.send(
        new GetRolePolicyCommand({
          RoleName: roleName,
          PolicyName: denyPolicyName(t.owner.storeId, principal),
        }),
        o,
      ),
    );
    // IAM answers policy documents URL-encoded.
    return out.PolicyDocument ? decodeURIComponent(out.PolicyDocument) : null;
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

/** Removes the principal's deny when it is this store's; one that is not is left alone, and said so. */
export async function deleteDeny(t: AwsTarget, roleName: string, principal: string, signal: AbortSignal) {
  const existing = await readDeny(t, roleName, principal, signal);
  if (existing === null) return;
  if (!isOwnDeny(existing, t.owner.storeId)) {
    t.logger?.warn(
      { resource: t.config.resourceId, role: roleName, policy: denyPolicyName(t.owner.storeId, principal) },
      'an inline policy has the name of a Stint deny but is not this store’s: left in place',
    );
    return;
  }
  try {
    await t.send(`remove the deny of ${principal} from role ${roleName}`, signal, (o) =>
      t.iam.send(
        new DeleteRolePolicyCommand({
          RoleName: roleName,
          PolicyName: denyPolicyName(t.owner.storeId, principal),
        }),
        o,
      ),
    );
  } catch (err) {
    if (!isGone(err)) throw err;
  }
}

/** Whether a document is this store's whole-request deny (not only earlier attempts', nor someone else's). */
export function deniesRequest(document: string | null, storeId: string): boolean {
  if (document === null || !isOwnDeny(document, storeId)) return false;
  try {
    const parsed = JSON.parse(document) as { Statement?: { Sid?: string }[] };
    return (parsed.Statement ?? []).some((s) => s.Sid === 'StintRevokedRequest');
  } catch {
    return false;
  }
}

/** The attempts an existing superseded-attempts deny already names. */
export function deniedAttempts(document: string | null): string[] {
  if (document === null) return [];
  try {
    const parsed = JSON.parse(document) as {
      Statement?: { Condition?: { StringEquals?: Record<string, unknown> } }[];
    };
    const key = `aws:PrincipalTag/${SESSION_TAG.attempt}`;
    return (parsed.Statement ?? []).flatMap((s) => {
      const v = s.Condition?.StringEquals?.[key];
      return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
    });
  } catch {
    return [];
  }
}
