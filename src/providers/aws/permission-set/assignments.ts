import {
  CreateAccountAssignmentCommand,
  DeleteAccountAssignmentCommand,
  DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand,
  ListAccountAssignmentsCommand,
} from '@aws-sdk/client-sso-admin';
import { StintError } from '../../../domain/errors.js';
import { type AwsTarget, pause } from '../aws-target.js';
import { psOptions } from './ps-ledger.js';

/** Polling provisioning: quick at first (it often settles in well under a second), then once a second. */
const FIRST_POLL_MS = 40;
const MAX_POLL_MS = 1_000;

export interface AssignmentRef {
  permissionSetArn: string;
  userId: string;
}

type Kind = 'create' | 'delete';

const what = (t: AwsTarget, kind: Kind, a: AssignmentRef) =>
  `${kind === 'create' ? 'assign' : 'unassign'} ${a.permissionSetArn} for user ${a.userId} in account ${psOptions(t).accountId}`;

export async function isAssigned(t: AwsTarget, a: AssignmentRef, signal: AbortSignal): Promise<boolean> {
  const { instanceArn, accountId } = psOptions(t);
  let next: string | undefined;
  do {
    const page = await t.send(`list assignments of ${a.permissionSetArn}`, signal, (o) =>
      t.sso.send(
        new ListAccountAssignmentsCommand({
          InstanceArn: instanceArn,
          AccountId: accountId,
          PermissionSetArn: a.permissionSetArn,
          ...(next ? { NextToken: next } : {}),
        }),
        o,
      ),
    );
    if ((page.AccountAssignments ?? []).some((x) => x.PrincipalType === 'USER' && x.PrincipalId === a.userId))
      return true;
    next = page.NextToken;
  } while (next);
  return false;
}

const isConflict = (err: unknown) => err instanceof StintError && /ConflictException/.test(err.message);

/**
 * Asks Identity Center for a creation or deletion and answers its request id. Another operation still running on
 * the same assignment (ConflictException) is waited out and the call made again. `onSent` is told each time a
 * call leaves, whatever comes back: from then on the operation may exist.
 */
export async function startOperation(
  t: AwsTarget,
  kind: Kind,
  a: AssignmentRef,
  signal: AbortSignal,
  onSent: () => void = () => {},
): Promise<string> {
  const { instanceArn, accountId } = psOptions(t);
  const input = {
    InstanceArn: instanceArn,
    TargetId: accountId,
    TargetType: 'AWS_ACCOUNT' as const,
    PermissionSetArn: a.permissionSetArn,
    PrincipalType: 'USER' as const,
    PrincipalId: a.userId,
  };
  const action = what(t, kind, a);
  for (let wait = FIRST_POLL_MS; ; wait = Math.min(wait * 2, MAX_POLL_MS)) {
    try {
      const id =
        kind === 'create'
          ? (
              await t.send(action, signal, (o) => {
                onSent();
                return t.sso.send(new CreateAccountAssignmentCommand(input), o);
              })
            ).AccountAssignmentCreationStatus?.RequestId
          : (
              await t.send(action, signal, (o) => {
                onSent();
                return t.sso.send(new DeleteAccountAssignmentCommand(input), o);
              })
            ).AccountAssignmentDeletionStatus?.RequestId;
      if (id === undefined) throw new Error('Identity Center answered no request id');
      return id;
    } catch (err) {
      if (!isConflict(err)) throw err;
      await pause(wait, signal, `aws target ${t.config.resourceId}: ${action}`);
    }
  }
}

/**
 * Polls an operation's status to its end, as Identity Center provisions asynchronously. FAILED is a clear
 * PROVIDER_ERROR carrying AWS's FailureReason.
 */
export async function awaitOperation(
  t: AwsTarget,
  kind: Kind,
  a: AssignmentRef,
  requestId: string,
  signal: AbortSignal,
): Promise<void> {
  const { instanceArn } = psOptions(t);
  const action = `${what(t, kind, a)}: status`;
  for (let wait = FIRST_POLL_MS; ; wait = Math.min(wait * 2, MAX_POLL_MS)) {
    const status =
      kind === 'create'
        ? (
            await t.send(action, signal, (o) =>
              t.sso.send(
                new DescribeAccountAssignmentCreationStatusCommand({
                  InstanceArn: instanceArn,
                  AccountAssignmentCreationRequestId: requestId,
                }),
                o,
              ),
            )
          ).AccountAssignmentCreationStatus
        : (
            await t.send(action, signal, (o) =>
              t.sso.send(
                new DescribeAccountAssignmentDeletionStatusCommand({
                  InstanceArn: instanceArn,
                  AccountAssignmentDeletionRequestId: requestId,
                }),
                o,
              ),
            )
          ).AccountAssignmentDeletionStatus;
    if (status?.Status === 'SUCCEEDED') return;
    if (status?.Status === 'FAILED') {
      throw new StintError(
        'PROVIDER_ERROR',
        `aws target ${t.config.resourceId}: ${what(t, kind, a)}: provisioning FAILED: ${status.FailureReason ?? 'no reason given'}`,
        { resource: t.config.resourceId, class: 'refused' },
      );
    }
    await pause(wait, signal, `aws target ${t.config.resourceId}: ${action}`);
  }
}

export async function createAssignment(t: AwsTarget, a: AssignmentRef, signal: AbortSignal): Promise<void> {
  await awaitOperation(t, 'create', a, await startOperation(t, 'create', a, signal), signal);
}

export async function deleteAssignment(t: AwsTarget, a: AssignmentRef, signal: AbortSignal): Promise<void> {
  await awaitOperation(t, 'delete', a, await startOperation(t, 'delete', a, signal), signal);
}
