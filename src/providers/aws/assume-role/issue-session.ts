import { randomBytes } from 'node:crypto';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { StintError } from '../../../domain/errors.js';
import { cancelledError, type IssueRequest, type IssueResult, type RevokeResult } from '../../provider.js';
import { refusal, refusedByService } from '../aws-errors.js';
import { PERMISSION_SET_ARN, ROLE_ARN } from '../aws-options.js';
import type { AwsTarget } from '../aws-target.js';
import { isOwn, isTagText, tagSafe } from '../ledger.js';
import { principalFor } from '../principal-name.js';
import { deniedAttempts, putDeny, readDeny, SESSION_TAG, supersededDocument } from './deny-policy.js';
import type { RoleIndex } from './find-entries.js';
import { dropEntry, roleEntries, writeEntry } from './role-ledger.js';

/** AWS issues no role session shorter than this (AssumeRole's DurationSeconds floor). */
export const MIN_SESSION_SECONDS = 900;
/** What undoing an issuance may take, on its own deadline: the caller's may be spent. */
const UNDO_DEADLINE_MS = 10_000;
/** SourceIdentity and RoleSessionName: what STS accepts. */
const STS_NAME = /^[\w+=,.@-]{2,64}$/;

type Revoke = (principal: string, signal: AbortSignal) => Promise<RevokeResult>;

/** The role a grant names, checked against the resource's mode and AWS's limits before anything is made. */
function grantedRole(t: AwsTarget, request: IssueRequest): { arn: string; name: string } {
  const [grant, ...more] = request.grants;
  if (grant === undefined || more.length > 0) {
    throw refusal(
      t.config.resourceId,
      `an assume-role grant names exactly one IAM role ARN; role ${request.role} names ${request.grants.length}`,
    );
  }
  if (PERMISSION_SET_ARN.test(grant))
    throw refusal(
      t.config.resourceId,
      `${grant} is a permission set, and this resource is in assume-role mode`,
    );
  const m = ROLE_ARN.exec(grant);
  if (!m?.[3]) throw refusal(t.config.resourceId, `${grant} is not an IAM role ARN`);
  return { arn: grant, name: m[3] };
}

/**
 * AssumeRole for the window: one session named after the request, its session tags naming the request, this store
 * and this attempt, SourceIdentity the requester (kept by AWS through role chaining, and in CloudTrail). The
 * grant is recorded on the role (a ledger tag) before the session is made, so a crash in between leaves a record
 * the reconciler finds. All or nothing: a failure undoes what this attempt made.
 */
export async function issueSession(
  t: AwsTarget,
  index: RoleIndex,
  request: IssueRequest,
  signal: AbortSignal,
  revoke: Revoke,
): Promise<IssueResult> {
  const id = t.config.resourceId;
  const principal = principalFor(request.requestId);
  const role = grantedRole(t, request);
  if (!isTagText(request.requestId))
    throw refusal(id, 'the request id cannot be carried in an AWS session tag');
  if (!STS_NAME.test(request.requester))
    throw refusal(
      id,
      `requester id ${request.requester} cannot be an AWS SourceIdentity (2 to 64 of [A-Za-z0-9_+=,.@-])`,
    );
  const windowSeconds = Math.floor((request.expiresAt.getTime() - t.now()) / 1000);
  if (!(windowSeconds >= MIN_SESSION_SECONDS)) {
    throw refusal(
      id,
      `the window (${Number.isNaN(windowSeconds) ? 'invalid' : `${windowSeconds} s`}) is shorter than the ${MIN_SESSION_SECONDS} s AWS issues a role session for: ask for at least 15 minutes`,
    );
  }

  const found = await t.send(`read role ${role.name}`, signal, (o) =>
    t.iam.send(new GetRoleCommand({ RoleName: role.name }), o),
  );
  if (found.Role?.Arn !== role.arn) {
    throw refusal(
      id,
      `${role.arn} is not a role of the account Stint's credentials reach (found ${found.Role?.Arn ?? 'none'})`,
    );
  }
  const maxSeconds = found.Role.MaxSessionDuration ?? 3600;
  if (windowSeconds > maxSeconds) {
    throw refusal(
      id,
      `the window (${windowSeconds} s) is longer than role ${role.name} allows (MaxSessionDuration ${maxSeconds} s): raise it on the role or shorten the rule's maximum`,
    );
  }

  const earlier = (await roleEntries(t, role.name, signal)).filter((e) => e.principal === principal);
  const theirs = earlier.find((e) => !isOwn(e, t.owner));
  if (theirs)
    throw new StintError(
      'PROVIDER_ERROR',
      `aws target ${id}: ${principal} on role ${role.name} belongs to another Stint store`,
      {
        resource: id,
        class: 'refused',
      },
    );
  const mine = earlier.find((e) => isOwn(e, t.owner));
  if (mine?.state === 'revoked') throw refusal(id, `${principal} was revoked on role ${role.name}`);
  if (mine) {
    // A crashed attempt of this request may have made a session nobody received: deny that attempt, not this one.
    const current = await readDeny(t, role.name, principal, signal);
    const attempts = [...new Set([...deniedAttempts(current), mine.attempt].filter((a) => a.length > 0))];
    const document = supersededDocument(request.requestId, t.owner.storeId, attempts);
    await putDeny(t, role.name, principal, document, signal, current);
  }

  const attempt = randomBytes(6).toString('hex');
  const entry = {
    roleName: role.name,
    storeId: t.owner.storeId,
    principal,
    requestId: request.requestId,
    deployment: t.owner.deployment,
    until: Math.ceil(request.expiresAt.getTime() / 1000),
    state: 'live' as const,
    attempt,
  };
  await writeEntry(t, entry, signal);
  index.remember(principal, role.name);

  // Counted again as the call leaves, so the session ends at the window's end plus only this call's transit.
  const duration = Math.min(windowSeconds, Math.floor((request.expiresAt.getTime() - t.now()) / 1000));
  let sent = false;
  try {
    if (duration < MIN_SESSION_SECONDS)
      throw refusal(
        id,
        `the window left (${duration} s) fell under the ${MIN_SESSION_SECONDS} s floor while issuing`,
      );
    if (signal.aborted) throw cancelledError(`aws target ${id}: assume role ${role.name}`, signal);
    sent = true;
    const out = await t.sts.send(
      new AssumeRoleCommand({
        RoleArn: role.arn,
        RoleSessionName: principal,
        DurationSeconds: duration,
        SourceIdentity: request.requester,
        Tags: [
          { Key: SESSION_TAG.request, Value: request.requestId },
          { Key: SESSION_TAG.store, Value: t.owner.storeId },
          { Key: SESSION_TAG.attempt, Value: attempt },
          { Key: SESSION_TAG.deployment, Value: tagSafe(t.owner.deployment) },
        ],
        // A session that assumes another role carries these on, for that role's own policies to use.
        TransitiveTagKeys: [SESSION_TAG.request, SESSION_TAG.store, SESSION_TAG.attempt],
      }),
      { abortSignal: signal },
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration)
      throw new Error('AssumeRole answered no credentials');
    return {
      principal,
      secret: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration.toISOString(),
        roleArn: role.arn,
        region: t.config.options.region,
      },
    };
  } catch (err) {
    // Refused by STS before anything was made: only the record goes. Sent and not answered (cut, cancelled): a
    // session may exist, so the request is denied as a revoke would.
    const refused = !sent || (!signal.aborted && refusedByService(err));
    await undo(t, role.name, principal, refused && !mine, revoke);
    throw t.fail(`assume role ${role.name}`, err, signal);
  }
}

async function undo(t: AwsTarget, roleName: string, principal: string, recordOnly: boolean, revoke: Revoke) {
  const signal = AbortSignal.timeout(UNDO_DEADLINE_MS);
  try {
    if (recordOnly) await dropEntry(t, roleName, principal, signal);
    else await revoke(principal, signal);
  } catch (e) {
    t.logger?.warn(
      { resource: t.config.resourceId, principal, error: t.fail('undo', e, signal).message },
      'aws issue cleanup failed; the reconciler will find the record',
    );
  }
}
