import { randomUUID } from 'node:crypto';
import { authorize, type Caller } from './authz.js';
import {
  type Assignment,
  type AssignmentOperation,
  type AwsState,
  INSTANCE_ARN,
  type PermissionSet,
  settle,
} from './state.js';
import { expectFields, fault, jsonAnswer, type WireAnswer } from './wire.js';

const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const TAGS_PER_RESOURCE = 50;
const ACCOUNT = /^\d{12}$/;

type Body = Record<string, unknown>;
const str = (b: Body, k: string) => String(b[k] ?? '');

function instance(b: Body): void {
  if (b.InstanceArn !== INSTANCE_ARN)
    throw fault(400, 'ResourceNotFoundException', 'The instance does not exist or is not accessible');
}

function permissionSet(state: AwsState, arn: string): PermissionSet {
  const ps = state.permissionSets.get(arn);
  if (!ps) throw fault(400, 'ResourceNotFoundException', `Could not find PermissionSet with ARN ${arn}`);
  return ps;
}

/** NextToken paging: the token is the next index. */
function page<T>(b: Body, items: T[], max = 100): { items: T[]; NextToken?: string } {
  const start = Number(b.NextToken ?? '0');
  const n = Math.min(Number(b.MaxResults ?? max), max);
  const slice = items.slice(start, start + n);
  const next = start + slice.length;
  return { items: slice, ...(next < items.length ? { NextToken: String(next) } : {}) };
}

function statusOf(op: AssignmentOperation) {
  return {
    Status: op.status,
    RequestId: op.requestId,
    ...(op.failureReason ? { FailureReason: op.failureReason } : {}),
    TargetId: op.assignment.accountId,
    TargetType: 'AWS_ACCOUNT',
    PermissionSetArn: op.assignment.permissionSetArn,
    PrincipalType: op.assignment.principalType,
    PrincipalId: op.assignment.principalId,
    CreatedDate: op.createdAt / 1000,
  };
}

function assignmentFrom(state: AwsState, b: Body): Assignment {
  expectFields(b, 'AccountAssignment', [
    'InstanceArn',
    'TargetId',
    'TargetType',
    'PermissionSetArn',
    'PrincipalType',
    'PrincipalId',
  ]);
  instance(b);
  if (b.TargetType !== 'AWS_ACCOUNT' || !ACCOUNT.test(str(b, 'TargetId')))
    throw fault(400, 'ValidationException', 'TargetId must be an AWS account id and TargetType AWS_ACCOUNT');
  if (b.PrincipalType !== 'USER' && b.PrincipalType !== 'GROUP')
    throw fault(400, 'ValidationException', 'PrincipalType must be USER or GROUP');
  permissionSet(state, str(b, 'PermissionSetArn'));
  if (b.PrincipalType === 'USER' && ![...state.users.values()].some((u) => u.id === b.PrincipalId))
    throw fault(400, 'ResourceNotFoundException', 'The principal does not exist in the identity store');
  return {
    accountId: str(b, 'TargetId'),
    permissionSetArn: str(b, 'PermissionSetArn'),
    principalType: b.PrincipalType,
    principalId: str(b, 'PrincipalId'),
  };
}

const sameAssignment = (a: Assignment, b: Assignment) =>
  a.accountId === b.accountId &&
  a.permissionSetArn === b.permissionSetArn &&
  a.principalType === b.principalType &&
  a.principalId === b.principalId;

/** Starts a provisioning operation; another one still running on the same assignment is a conflict. */
function startOperation(state: AwsState, kind: 'create' | 'delete', a: Assignment, now: number) {
  settle(state, now);
  const running = [...state.operations.values()].some(
    (op) => op.status === 'IN_PROGRESS' && sameAssignment(op.assignment, a),
  );
  if (running)
    throw fault(
      400,
      'ConflictException',
      'An account assignment operation for this principal and permission set is already in progress',
    );
  const exists = state.assignments.some((x) => sameAssignment(x, a));
  // Creating what exists, or deleting what does not, is a no-op that succeeds at once.
  const immediate = (kind === 'create' && exists) || (kind === 'delete' && !exists);
  const op: AssignmentOperation = {
    requestId: randomUUID(),
    kind,
    assignment: a,
    createdAt: now,
    doneAt: immediate ? now : now + state.provisioningMs,
    status: 'IN_PROGRESS',
  };
  state.operations.set(op.requestId, op);
  settle(state, now);
  return op;
}

export function handleSsoAdmin(
  state: AwsState,
  caller: Caller,
  operation: string,
  b: Body,
  now: number,
): WireAnswer {
  authorize(state, caller, `sso:${operation}`, '*', now);
  settle(state, now);
  switch (operation) {
    case 'ListPermissionSets': {
      expectFields(b, operation, ['InstanceArn'], ['MaxResults', 'NextToken']);
      instance(b);
      const { items, NextToken } = page(b, [...state.permissionSets.keys()]);
      return jsonAnswer({ PermissionSets: items, ...(NextToken ? { NextToken } : {}) });
    }
    case 'DescribePermissionSet': {
      expectFields(b, operation, ['InstanceArn', 'PermissionSetArn']);
      instance(b);
      const ps = permissionSet(state, str(b, 'PermissionSetArn'));
      return jsonAnswer({
        PermissionSet: {
          Name: ps.name,
          PermissionSetArn: ps.arn,
          SessionDuration: ps.sessionDuration,
          CreatedDate: 1_704_067_200,
        },
      });
    }
    case 'ListTagsForResource': {
      expectFields(b, operation, ['InstanceArn', 'ResourceArn'], ['NextToken']);
      instance(b);
      const ps = permissionSet(state, str(b, 'ResourceArn'));
      const { items, NextToken } = page(
        b,
        [...ps.tags].map(([Key, Value]) => ({ Key, Value })),
        20,
      );
      return jsonAnswer({ Tags: items, ...(NextToken ? { NextToken } : {}) });
    }
    case 'TagResource': {
      expectFields(b, operation, ['InstanceArn', 'ResourceArn', 'Tags']);
      instance(b);
      const ps = permissionSet(state, str(b, 'ResourceArn'));
      const tags = b.Tags as { Key: string; Value: string }[];
      const after = new Map(ps.tags);
      for (const t of tags) {
        if (!TAG_KEY.test(t.Key) || /^aws:/i.test(t.Key) || !TAG_VALUE.test(t.Value))
          throw fault(400, 'ValidationException', `invalid tag ${t.Key}`);
        after.set(t.Key, t.Value);
      }
      if (after.size > TAGS_PER_RESOURCE)
        throw fault(400, 'ServiceQuotaExceededException', 'The number of tags on the resource exceeds 50');
      ps.tags = after;
      return jsonAnswer({});
    }
    case 'UntagResource': {
      expectFields(b, operation, ['InstanceArn', 'ResourceArn', 'TagKeys']);
      instance(b);
      const ps = permissionSet(state, str(b, 'ResourceArn'));
      for (const k of b.TagKeys as string[]) ps.tags.delete(k);
      return jsonAnswer({});
    }
    case 'ListAccountAssignments': {
      expectFields(
        b,
        operation,
        ['InstanceArn', 'AccountId', 'PermissionSetArn'],
        ['MaxResults', 'NextToken'],
      );
      instance(b);
      permissionSet(state, str(b, 'PermissionSetArn'));
      const found = state.assignments.filter(
        (a) => a.accountId === b.AccountId && a.permissionSetArn === b.PermissionSetArn,
      );
      const { items, NextToken } = page(
        b,
        found.map((a) => ({
          AccountId: a.accountId,
          PermissionSetArn: a.permissionSetArn,
          PrincipalType: a.principalType,
          PrincipalId: a.principalId,
        })),
        20,
      );
      return jsonAnswer({ AccountAssignments: items, ...(NextToken ? { NextToken } : {}) });
    }
    case 'CreateAccountAssignment': {
      const op = startOperation(state, 'create', assignmentFrom(state, b), now);
      return jsonAnswer({ AccountAssignmentCreationStatus: statusOf(op) });
    }
    case 'DeleteAccountAssignment': {
      const op = startOperation(state, 'delete', assignmentFrom(state, b), now);
      return jsonAnswer({ AccountAssignmentDeletionStatus: statusOf(op) });
    }
    case 'DescribeAccountAssignmentCreationStatus':
    case 'DescribeAccountAssignmentDeletionStatus': {
      const creation = operation === 'DescribeAccountAssignmentCreationStatus';
      const idField = creation ? 'AccountAssignmentCreationRequestId' : 'AccountAssignmentDeletionRequestId';
      expectFields(b, operation, ['InstanceArn', idField]);
      instance(b);
      const op = state.operations.get(str(b, idField));
      if (!op || op.kind !== (creation ? 'create' : 'delete'))
        throw fault(400, 'ResourceNotFoundException', 'No such account assignment request');
      return jsonAnswer({
        [creation ? 'AccountAssignmentCreationStatus' : 'AccountAssignmentDeletionStatus']: statusOf(op),
      });
    }
    default:
      throw fault(400, 'UnknownOperationException', `the SSO Admin double does not implement ${operation}`);
  }
}
