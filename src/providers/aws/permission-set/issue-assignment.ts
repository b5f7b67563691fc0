import { DescribePermissionSetCommand } from '@aws-sdk/client-sso-admin';
import { StintError } from '../../../domain/errors.js';
import type { IssueRequest, IssueResult } from '../../provider.js';
import { refusal } from '../aws-errors.js';
import { instanceIdOf, PERMISSION_SET_ARN, ROLE_ARN } from '../aws-options.js';
import type { AwsTarget } from '../aws-target.js';
import { isOwn, isTagText } from '../ledger.js';
import { principalFor } from '../principal-name.js';
import { awaitOperation, isAssigned, startOperation } from './assignments.js';
import { type PsEntry, type PsIndex, psEntries, psOptions, writePsEntry } from './ps-ledger.js';
import { releaseClaim } from './release-claim.js';

/** What undoing an issuance may take, on its own deadline: the caller's may be spent. */
const UNDO_DEADLINE_MS = 15_000;

/** The permission sets a grant names, checked against the resource's mode and instance before anything is made. */
function grantedSets(t: AwsTarget, request: IssueRequest): string[] {
  const { instanceArn } = psOptions(t);
  for (const g of request.grants) {
    if (ROLE_ARN.test(g))
      throw refusal(t.config.resourceId, `${g} is an IAM role, and this resource is in permission-set mode`);
    if (!PERMISSION_SET_ARN.test(g)) throw refusal(t.config.resourceId, `${g} is not a permission set ARN`);
    if (instanceIdOf(g) !== instanceIdOf(instanceArn))
      throw refusal(
        t.config.resourceId,
        `${g} belongs to another Identity Center instance than ${instanceArn}`,
      );
  }
  if (request.grants.length === 0) throw refusal(t.config.resourceId, `role ${request.role} grants nothing`);
  return [...new Set(request.grants)];
}

/**
 * CreateAccountAssignment of each permission set for the requester's Identity Center user, in the resource's
 * account, provisioning polled to its end, as AWS's TEAM does. Each claim is recorded on its permission set (a
 * ledger tag) before the assignment is made. A user already assigned outside Stint is refused: revoking could
 * not end that access. All or nothing: any failure (FAILED provisioning, a missing permission set, a cancel)
 * releases every claim this issuance made.
 */
export async function issueAssignment(
  t: AwsTarget,
  index: PsIndex,
  request: IssueRequest,
  signal: AbortSignal,
): Promise<IssueResult> {
  const id = t.config.resourceId;
  const { principals, accountId, portalUrl } = psOptions(t);
  const principal = principalFor(request.requestId);
  const sets = grantedSets(t, request);
  const userId = principals[request.requester];
  if (userId === undefined)
    throw refusal(
      id,
      `requester ${request.requester} has no Identity Center user in this resource's options.principals`,
    );
  if (!isTagText(request.requestId)) throw refusal(id, 'the request id cannot be carried in an AWS tag');

  const claimed: Claim[] = [];
  const names: string[] = [];
  try {
    for (const arn of sets) {
      const described = await t.send(`describe ${arn}`, signal, (o) =>
        t.sso.send(
          new DescribePermissionSetCommand({ InstanceArn: psOptions(t).instanceArn, PermissionSetArn: arn }),
          o,
        ),
      );
      names.push(described.PermissionSet?.Name ?? arn);
      const entries = await psEntries(t, arn, signal);
      const theirs = entries.find((e) => e.principal === principal && !isOwn(e, t.owner));
      if (theirs) {
        throw new StintError(
          'PROVIDER_ERROR',
          `aws target ${id}: ${principal} on ${arn} belongs to another Stint store`,
          {
            resource: id,
            class: 'refused',
          },
        );
      }
      // Any Stint record of this user here (live or being cleared) makes the assignment Stint's, not standing.
      const stints = entries.some((e) => e.userId === userId && e.accountId === accountId);
      if (!stints && (await isAssigned(t, { permissionSetArn: arn, userId }, signal))) {
        throw refusal(
          id,
          `${request.requester} already holds ${arn} in account ${accountId} outside Stint: a grant could not be revoked`,
        );
      }
      const entry = {
        permissionSetArn: arn,
        storeId: t.owner.storeId,
        principal,
        requestId: request.requestId,
        deployment: t.owner.deployment,
        until: Math.ceil(request.expiresAt.getTime() / 1000),
        userId,
        accountId,
      };
      // Counted before it is written: a record sent and cut may still land, and the undo removes it then.
      const claim: Claim = { entry, creation: 'none' };
      claimed.push(claim);
      index.remember(principal, arn);
      await writePsEntry(t, entry, signal);
      const ref = { permissionSetArn: arn, userId };
      const requestId = await startOperation(t, 'create', ref, signal, () => {
        claim.creation = 'sent';
      });
      claim.creation = requestId;
      await awaitOperation(t, 'create', ref, requestId, signal);
      claim.creation = 'settled';
    }
  } catch (err) {
    await undo(t, claimed);
    throw t.fail(`issue ${principal}`, err, signal);
  }
  return {
    principal,
    secret: {
      accountId,
      permissionSets: names.join(', '),
      identityStoreUserId: userId,
      ...(portalUrl ? { portalUrl } : {}),
    },
  };
}

/**
 * Where an issuance got with one permission set: nothing asked yet, a creation sent with no answer (it may still
 * land), its request id (running), or settled.
 */
interface Claim {
  entry: Omit<PsEntry, 'fields'>;
  creation: 'none' | 'sent' | 'settled' | string;
}

async function undo(t: AwsTarget, claimed: Claim[]): Promise<void> {
  const signal = AbortSignal.timeout(UNDO_DEADLINE_MS);
  for (const { entry, creation } of claimed) {
    const ref = { permissionSetArn: entry.permissionSetArn, userId: entry.userId };
    try {
      if (creation !== 'none' && creation !== 'sent' && creation !== 'settled') {
        // Running: its end is awaited, so what shows afterwards is what it did (FAILED made nothing).
        await awaitOperation(t, 'create', ref, creation, signal).catch((e: unknown) => {
          if (signal.aborted) throw e;
        });
      }
      await releaseClaim(t, entry.permissionSetArn, entry.userId, entry.principal, signal, {
        ...(creation === 'sent' ? { creationInDoubt: entry } : {}),
      });
    } catch (e) {
      t.logger?.warn(
        {
          resource: t.config.resourceId,
          principal: entry.principal,
          error: t.fail('undo', e, signal).message,
        },
        'aws assignment cleanup failed; the reconciler will find the record',
      );
    }
  }
}
