import { createHash, randomBytes } from 'node:crypto';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import { isPolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { parseAwsConfig } from '../../src/providers/aws/aws-config.js';
import { createAwsProvider } from '../../src/providers/aws/aws-provider.js';
import { awsKind } from '../../src/providers/aws/index.js';
import {
  isCancelled,
  isPermanentFailure,
  NO_CANCEL,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import { awsContractTarget, awsOptions, awsProvider, CONNECTION_ENV, READ_ROLE } from './aws-fixture.js';
import { startAwsDouble } from './doubles/aws/server.js';
import {
  ACCOUNT_ID,
  BILLING_PERMISSION_SET,
  BROKEN_PERMISSION_SET,
  READ_ONLY_PERMISSION_SET,
  roleArn,
} from './doubles/aws/state.js';
import { assignmentHeld, ledgerTags } from './doubles/aws/views.js';
import { fault } from './doubles/aws/wire.js';

const double = await startAwsDouble();
afterAll(() => double.close());

const newOwner = (deployment = 'aws-test'): TargetOwner => ({
  deployment,
  storeId: `st_${randomBytes(8).toString('hex')}`,
});
const newId = () => `req_${randomBytes(8).toString('hex')}`;
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);

async function rejection(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

const callsSince = (n: number) => double.calls.slice(n);
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of opened.splice(0)) await p.close();
});
function provider(mode: 'assume-role' | 'permission-set', owner = newOwner(), opts = {}) {
  const p = awsProvider(double, mode, owner, opts);
  opened.push(p);
  return p;
}

const target = (mode: 'assume-role' | 'permission-set') => awsContractTarget(double, mode);

describe('aws assume-role: what goes over the wire', () => {
  it('AssumeRole carries the window, the requester as SourceIdentity, and session tags naming the request and store', async () => {
    const owner = newOwner();
    const p = provider('assume-role', owner);
    const requestId = newId();
    const before = double.calls.length;
    const cred = await p.issue(
      { requestId, requester: 'alice', role: 'read', grants: [READ_ROLE], expiresAt: inMinutes(30) },
      NO_CANCEL,
    );
    const assume = callsSince(before).find((c) => c.action === 'AssumeRole');
    expect(assume?.caller).toBe('admin');
    expect(assume?.params).toMatchObject({
      RoleArn: READ_ROLE,
      RoleSessionName: `stint-${requestId}`,
      SourceIdentity: 'alice',
      'Tags.member.1.Key': 'stint-request',
      'Tags.member.1.Value': requestId,
      'Tags.member.2.Key': 'stint-store',
      'Tags.member.2.Value': owner.storeId,
      'TransitiveTagKeys.member.1': 'stint-request',
    });
    const seconds = Number(assume?.params.DurationSeconds);
    expect(seconds).toBeGreaterThan(29 * 60);
    expect(seconds).toBeLessThanOrEqual(30 * 60);
    // The grant is recorded on the role before the session is made.
    const order = callsSince(before).map((c) => c.action);
    expect(order.indexOf('TagRole')).toBeLessThan(order.indexOf('AssumeRole'));
    expect(cred.principal).toBe(`stint-${requestId}`);
    expect(Object.keys(cred.secret).sort()).toEqual(
      ['accessKeyId', 'expiration', 'region', 'roleArn', 'secretAccessKey', 'sessionToken'].sort(),
    );
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('revoke denies on the request’s session tag (not aws:TokenIssueTime), and the session is refused at once', async () => {
    const owner = newOwner();
    const p = provider('assume-role', owner);
    const requestId = newId();
    const cred = await p.issue(
      { requestId, requester: 'alice', role: 'read', grants: [READ_ROLE], expiresAt: inMinutes(30) },
      NO_CANCEL,
    );
    const session = await target('assume-role').openSession(cred.secret);
    expect(await session.alive()).toBe(true);
    expect(await p.revoke({ principal: cred.principal }, NO_CANCEL)).toEqual({ outcome: 'revoked' });
    expect(await session.alive()).toBe(false);
    await session.close();
    const role = double.state.roles.get('StintRead');
    const text = role?.inline.get(`stint.${owner.storeId}.${cred.principal}`) ?? '';
    expect(text).not.toMatch(/TokenIssueTime/);
    expect(JSON.parse(text)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'StintRevokedRequest',
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: {
            StringEquals: {
              'aws:PrincipalTag/stint-request': requestId,
              'aws:PrincipalTag/stint-store': owner.storeId,
            },
          },
        },
      ],
    });
  });

  it('two grants of one person on one role never cut each other', async () => {
    const p = provider('assume-role');
    const issue = () =>
      p.issue(
        {
          requestId: newId(),
          requester: 'alice',
          role: 'read',
          grants: [READ_ROLE],
          expiresAt: inMinutes(30),
        },
        NO_CANCEL,
      );
    const first = await issue();
    const second = await issue();
    const a = await target('assume-role').openSession(first.secret);
    const b = await target('assume-role').openSession(second.secret);
    await p.revoke({ principal: first.principal }, NO_CANCEL);
    expect(await a.alive()).toBe(false);
    expect(await b.alive()).toBe(true);
    await expect(b.doGranted()).resolves.toBeDefined();
    await p.revoke({ principal: second.principal }, NO_CANCEL);
    expect(await b.alive()).toBe(false);
    await a.close();
    await b.close();
  });

  it('an inline policy carrying a Stint deny’s name but not this store’s condition is never replaced or deleted', async () => {
    const owner = newOwner();
    const p = provider('assume-role', owner);
    const cred = await p.issue(
      { requestId: newId(), requester: 'alice', role: 'read', grants: [READ_ROLE], expiresAt: inMinutes(30) },
      NO_CANCEL,
    );
    const role = double.state.roles.get('StintRead');
    const name = `stint.${owner.storeId}.${cred.principal}`;
    const operators = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: '*' }],
    });
    role?.inline.set(name, operators);
    try {
      const err = await rejection(p.revoke({ principal: cred.principal }, NO_CANCEL));
      expect(err.message).toMatch(/refusing to replace inline policy .* it is not this store's deny/);
      expect(isPermanentFailure(err)).toBe(false);
      expect(role?.inline.get(name)).toBe(operators);
      expect((await p.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(false);
    } finally {
      role?.inline.delete(name);
    }
    expect((await p.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('revoked');
  });

  it('a re-issue of the same request (a crashed attempt) denies the earlier attempt’s session, not its own', async () => {
    const p = provider('assume-role');
    const request = {
      requestId: newId(),
      requester: 'alice',
      role: 'read',
      grants: [READ_ROLE],
      expiresAt: inMinutes(30),
    };
    const lost = await p.issue(request, NO_CANCEL);
    const kept = await p.issue(request, NO_CANCEL);
    await expect(target('assume-role').openSession(lost.secret)).rejects.toThrow(/explicit deny/);
    const session = await target('assume-role').openSession(kept.secret);
    expect(await session.alive()).toBe(true);
    await session.close();
    await p.revoke({ principal: kept.principal }, NO_CANCEL);
  });
});

describe('aws assume-role: windows AWS will not issue are refused before anything is made', () => {
  it('a window under AWS’s 900 s floor is refused clearly, permanently, and nothing is recorded or assumed', async () => {
    const p = provider('assume-role');
    const requestId = newId();
    const before = double.calls.length;
    const err = await rejection(
      p.issue(
        { requestId, requester: 'alice', role: 'read', grants: [READ_ROLE], expiresAt: inMinutes(10) },
        NO_CANCEL,
      ),
    );
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message).toMatch(/shorter than the 900 s AWS issues a role session for/);
    expect(isPermanentFailure(err)).toBe(true);
    expect(callsSince(before)).toEqual([]);
    expect([...ledgerTags(double.state).keys()].some((k) => k.endsWith(`stint-${requestId}`))).toBe(false);
  });

  it('a window longer than the role’s MaxSessionDuration is refused; a role allowing it issues', async () => {
    const p = provider('assume-role');
    const requestId = newId();
    const request = {
      requestId,
      requester: 'alice',
      role: 'long',
      grants: [READ_ROLE],
      expiresAt: inMinutes(120),
    };
    const err = await rejection(p.issue(request, NO_CANCEL));
    expect(err.message).toMatch(/longer than role StintRead allows \(MaxSessionDuration 3600 s\)/);
    expect(isPermanentFailure(err)).toBe(true);
    expect(
      double.calls.some(
        (c) => c.action === 'AssumeRole' && c.params.RoleSessionName === `stint-${requestId}`,
      ),
    ).toBe(false);
    const long = await p.issue({ ...request, grants: [roleArn('/stint/', 'StintLong')] }, NO_CANCEL);
    await p.revoke({ principal: long.principal }, NO_CANCEL);
  });

  it('a role STS refuses to assume leaves nothing: the record made first is removed', async () => {
    const p = provider('assume-role');
    const requestId = newId();
    const err = await rejection(
      p.issue(
        {
          requestId,
          requester: 'alice',
          role: 'read',
          grants: [roleArn('/stint/', 'StintUntrusting')],
          expiresAt: inMinutes(30),
        },
        NO_CANCEL,
      ),
    );
    expect(err.message).toMatch(/AccessDenied/);
    expect(double.calls.some((c) => c.action === 'TagRole' && c.params.RoleName === 'StintUntrusting')).toBe(
      true,
    );
    expect(double.state.roles.get('StintUntrusting')?.tags.size).toBe(0);
    expect(double.state.roles.get('StintUntrusting')?.inline.size).toBe(0);
  });

  it('a grant of the wrong kind for the mode is refused', async () => {
    const err = await rejection(
      provider('assume-role').issue(
        {
          requestId: newId(),
          requester: 'alice',
          role: 'x',
          grants: [READ_ONLY_PERMISSION_SET],
          expiresAt: inMinutes(30),
        },
        NO_CANCEL,
      ),
    );
    expect(err.message).toMatch(/is a permission set, and this resource is in assume-role mode/);
  });
});

describe('aws assume-role: the window’s end', () => {
  it('the reconciler’s listing clears a revoked grant’s deny and record once its window has long passed', async () => {
    let offset = 0;
    const owner = newOwner();
    const config = parseAwsConfig(
      {
        id: 'clock',
        kind: 'aws',
        connection: { env: CONNECTION_ENV },
        options: awsOptions(double, 'assume-role'),
      },
      { [CONNECTION_ENV]: double.connection() },
    );
    const p = createAwsProvider({ config, owner, now: () => Date.now() + offset });
    const cred = await p.issue(
      { requestId: newId(), requester: 'alice', role: 'read', grants: [READ_ROLE], expiresAt: inMinutes(20) },
      NO_CANCEL,
    );
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
    const deny = `stint.${owner.storeId}.${cred.principal}`;
    const role = () => double.state.roles.get('StintRead');
    await p.listOwned({}, NO_CANCEL);
    expect(role()?.inline.has(deny)).toBe(true);
    // Just past the window: still kept (a session might outlast it by the time AssumeRole took to arrive).
    offset = 21 * 60_000;
    await p.listOwned({}, NO_CANCEL);
    expect(role()?.inline.has(deny)).toBe(true);
    offset = 30 * 60_000;
    await p.listOwned({}, NO_CANCEL);
    expect(role()?.inline.has(deny)).toBe(false);
    expect([...(role()?.tags.keys() ?? [])].some((k) => k.endsWith(cred.principal))).toBe(false);
    expect((await p.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
    await p.close();
  });

  it('revoking at the window’s natural end, once the session is over, only clears the record', async () => {
    let offset = 0;
    const config = parseAwsConfig(
      {
        id: 'clock',
        kind: 'aws',
        connection: { env: CONNECTION_ENV },
        options: awsOptions(double, 'assume-role'),
      },
      { [CONNECTION_ENV]: double.connection() },
    );
    const p = createAwsProvider({ config, owner: newOwner(), now: () => Date.now() + offset });
    const cred = await p.issue(
      { requestId: newId(), requester: 'alice', role: 'read', grants: [READ_ROLE], expiresAt: inMinutes(20) },
      NO_CANCEL,
    );
    offset = 22 * 60_000;
    const before = double.calls.length;
    expect((await p.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('revoked');
    expect(callsSince(before).some((c) => c.action === 'PutRolePolicy')).toBe(false);
    expect((await p.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
    await p.close();
  });
});

describe('aws permission-set', () => {
  it('a FAILED provisioning is a clear PROVIDER_ERROR, and what the issuance assigned before it is undone', async () => {
    const p = provider('permission-set');
    const requestId = newId();
    const err = await rejection(
      p.issue(
        {
          requestId,
          requester: 'carol',
          role: 'broken',
          grants: [READ_ONLY_PERMISSION_SET, BROKEN_PERMISSION_SET],
          expiresAt: inMinutes(30),
        },
        NO_CANCEL,
      ),
    );
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.message).toMatch(
      /provisioning FAILED: Received a 400 status error: the permission set policy is malformed/,
    );
    const carol = double.state.users.get('carol')?.id;
    expect(double.state.assignments.some((a) => a.principalId === carol)).toBe(false);
    expect([...ledgerTags(double.state).keys()].some((k) => k.endsWith(`stint-${requestId}`))).toBe(false);
    const statuses = double.calls.filter((c) => c.action.startsWith('DescribeAccountAssignment'));
    expect(statuses.some((c) => c.action === 'DescribeAccountAssignmentDeletionStatus')).toBe(true);
  });

  it('a user already assigned outside Stint is refused, and that assignment is left alone', async () => {
    const carol = double.state.users.get('carol')?.id ?? '';
    const standing = {
      accountId: ACCOUNT_ID,
      permissionSetArn: BILLING_PERMISSION_SET,
      principalType: 'USER' as const,
      principalId: carol,
    };
    double.state.assignments.push(standing);
    try {
      const err = await rejection(
        provider('permission-set').issue(
          {
            requestId: newId(),
            requester: 'carol',
            role: 'billing',
            grants: [BILLING_PERMISSION_SET],
            expiresAt: inMinutes(30),
          },
          NO_CANCEL,
        ),
      );
      expect(err.message).toMatch(/already holds .* outside Stint/);
      expect(double.state.assignments).toContainEqual(standing);
    } finally {
      double.state.assignments = double.state.assignments.filter((a) => a !== standing);
    }
  });

  it('two grants of one person (even from two stores) keep the assignment until the last is revoked', async () => {
    const mine = provider('permission-set');
    const theirs = provider('permission-set');
    const request = () => ({
      requestId: newId(),
      requester: 'carol',
      role: 'read',
      grants: [READ_ONLY_PERMISSION_SET],
      expiresAt: inMinutes(30),
    });
    const a = await mine.issue(request(), NO_CANCEL);
    const b = await theirs.issue(request(), NO_CANCEL);
    await mine.revoke({ principal: a.principal }, NO_CANCEL);
    const session = await target('permission-set').openSession(b.secret);
    await expect(session.doGranted()).resolves.toBeDefined();
    expect((await mine.verifyRevoked({ principal: a.principal }, NO_CANCEL)).gone).toBe(true);
    await theirs.revoke({ principal: b.principal }, NO_CANCEL);
    await expect(target('permission-set').openSession(b.secret)).rejects.toThrow(/portal refused/);
    // A portal session opened before stays until its own end: Identity Center does not end it (endsSessions false).
    expect(await session.alive()).toBe(true);
    await session.close();
  });

  it('a creation cut in flight is deleted once it lands, its record kept (claiming nothing) for the reconciler', async () => {
    const p = provider('permission-set');
    const carol = double.state.users.get('carol')?.id ?? '';
    const controller = new AbortController();
    // Cut just as Identity Center takes the creation: it runs (slowly enough to be running still when the undo
    // comes), and its answer never arrives.
    double.state.provisioningMs = 400;
    double.beforeNext('CreateAccountAssignment', () => controller.abort());
    const requestId = newId();
    const before = double.calls.length;
    const err = await rejection(
      p.issue(
        {
          requestId,
          requester: 'carol',
          role: 'read',
          grants: [READ_ONLY_PERMISSION_SET],
          expiresAt: inMinutes(30),
        },
        controller.signal,
      ),
    );
    double.state.provisioningMs = 25;
    expect(isCancelled(err)).toBe(true);
    // The deletion was asked though no assignment showed yet: it waited for the running creation, then ran.
    const undo = callsSince(before).filter((c) => c.action === 'DeleteAccountAssignment');
    const statuses = undo.map((c) => c.status);
    expect(statuses.length).toBeGreaterThan(1);
    expect(statuses.slice(0, -1).every((st) => st === 400)).toBe(true); // ConflictException, waited out
    expect(statuses.at(-1)).toBe(200);
    expect(assignmentHeld(double.state, `stint-${requestId}`, double.now())).toBe(false);
    expect(double.state.assignments.some((a) => a.principalId === carol)).toBe(false);
    const record = [...ledgerTags(double.state)].find(([k]) => k.endsWith(`stint-${requestId}`));
    expect(Number(/until=(\d+)/.exec(record?.[1] ?? '')?.[1])).toBeLessThanOrEqual(Date.now() / 1000);
    // The reconciler finds the record and its revoke clears it.
    expect((await p.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal)).toContain(
      `stint-${requestId}`,
    );
    expect((await p.revoke({ principal: `stint-${requestId}` }, NO_CANCEL)).outcome).toBe('revoked');
    expect([...ledgerTags(double.state).keys()].some((k) => k.endsWith(`stint-${requestId}`))).toBe(false);
  });

  it('a claim recorded while a deletion ran gets its assignment back: the deleting revoke makes it again', async () => {
    const p = provider('permission-set');
    const other = newOwner();
    const carol = double.state.users.get('carol')?.id ?? '';
    const a = await p.issue(
      {
        requestId: newId(),
        requester: 'carol',
        role: 'read',
        grants: [READ_ONLY_PERMISSION_SET],
        expiresAt: inMinutes(30),
      },
      NO_CANCEL,
    );
    // Another store's issuance for carol lands between this revoke's read of the claims and its deletion: it
    // records its claim and finds the assignment already there, which this revoke then deletes.
    const theirs = `stint:${other.storeId}:stint-${newId()}`;
    double.beforeNext('DeleteAccountAssignment', () => {
      double.state.permissionSets
        .get(READ_ONLY_PERMISSION_SET)
        ?.tags.set(
          theirs,
          `request=x deployment=other until=${Math.ceil(Date.now() / 1000) + 1800} user=${carol} account=${ACCOUNT_ID}`,
        );
    });
    const before = double.calls.length;
    expect((await p.revoke({ principal: a.principal }, NO_CANCEL)).outcome).toBe('revoked');
    const actions = callsSince(before).map((c) => c.action);
    expect(actions.indexOf('DeleteAccountAssignment')).toBeLessThan(
      actions.lastIndexOf('CreateAccountAssignment'),
    );
    expect(
      double.state.assignments.some(
        (x) => x.principalId === carol && x.permissionSetArn === READ_ONLY_PERMISSION_SET,
      ),
    ).toBe(true);
    double.state.permissionSets.get(READ_ONLY_PERMISSION_SET)?.tags.delete(theirs);
    double.state.assignments = double.state.assignments.filter((x) => x.principalId !== carol);
  });

  it('a requester with no Identity Center user in options.principals is refused before anything is made', async () => {
    const before = double.calls.length;
    const err = await rejection(
      provider('permission-set').issue(
        {
          requestId: newId(),
          requester: 'mallory',
          role: 'read',
          grants: [READ_ONLY_PERMISSION_SET],
          expiresAt: inMinutes(30),
        },
        NO_CANCEL,
      ),
    );
    expect(err.message).toMatch(/requester mallory has no Identity Center user/);
    expect(callsSince(before)).toEqual([]);
  });
});

describe('aws credentials and secrets', () => {
  it('the double recomputes every SigV4 signature: a wrong secret is refused, and its error names no secret', async () => {
    const wrong = `wrong-${randomBytes(20).toString('base64')}`;
    const p = provider('assume-role', newOwner(), { secret: wrong });
    const before = double.calls.length;
    const err = await rejection(p.ping({}, NO_CANCEL));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(err.details).toMatchObject({ class: 'auth' });
    expect(err.message).toMatch(/SignatureDoesNotMatch/);
    expect(err.message).not.toContain(wrong);
    expect(callsSince(before).every((c) => c.caller === 'refused')).toBe(true);
    // The right secret, same key id, is accepted.
    await expect(provider('assume-role').ping({}, NO_CANCEL)).resolves.toMatchObject({
      target: `AWS account ${ACCOUNT_ID} as arn:aws:iam::${ACCOUNT_ID}:user/stint`,
    });
  });

  it('a body changed after signing is refused even with the original signature', async () => {
    const credentials = JSON.parse(double.connection()) as { accessKeyId: string; secretAccessKey: string };
    const sts = new STSClient({ region: 'us-east-1', endpoint: double.url, credentials });
    let tampered = false;
    sts.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body: string; headers: Record<string, string> };
        // The body changes and its declared hash with it, so only the signature can tell.
        request.body = `${request.body}&Extra=1`;
        request.headers['content-length'] = String(request.body.length);
        request.headers['x-amz-content-sha256'] = createHash('sha256').update(request.body).digest('hex');
        tampered = true;
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low' },
    );
    await expect(sts.send(new GetCallerIdentityCommand({}))).rejects.toThrow(
      /signature we calculated does not match/,
    );
    expect(tampered).toBe(true);
    sts.destroy();
  });

  it('the double holds Stint to the documented policy: without sts:TagSession, issue is refused and leaves nothing', async () => {
    const policy = double.state.admin.policy;
    const statements = (Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement]).map((st) =>
      st.Sid === 'AssumeGrantedRoles' ? { ...st, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] } : st,
    );
    double.state.admin.policy = { ...policy, Statement: statements };
    try {
      const requestId = newId();
      const err = await rejection(
        provider('assume-role').issue(
          { requestId, requester: 'alice', role: 'read', grants: [READ_ROLE], expiresAt: inMinutes(30) },
          NO_CANCEL,
        ),
      );
      expect(err.details).toMatchObject({ class: 'privilege' });
      expect(err.message).toMatch(/not authorized to perform: sts:TagSession/);
      expect([...ledgerTags(double.state).keys()].some((k) => k.endsWith(`stint-${requestId}`))).toBe(false);
    } finally {
      double.state.admin.policy = policy;
    }
  });

  it('another store’s grants under this deployment name are reported foreign, never listed as owned', async () => {
    const mine = provider('assume-role', newOwner('shared'));
    const theirs = provider('assume-role', newOwner('shared'));
    const cred = await theirs.issue(
      { requestId: newId(), requester: 'bob', role: 'read', grants: [READ_ROLE], expiresAt: inMinutes(30) },
      NO_CANCEL,
    );
    const foreign = (await mine.listForeign({}, NO_CANCEL)).principals;
    expect(foreign.map((f) => f.principal)).toContain(cred.principal);
    expect((await mine.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal)).not.toContain(
      cred.principal,
    );
    await theirs.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('a configured secret the target echoes is scrubbed from the error', async () => {
    const { secretAccessKey } = JSON.parse(double.connection()) as Record<string, string>;
    double.failNext(
      'GetCallerIdentity',
      fault(500, 'InternalFailure', `internal error near ${secretAccessKey}`),
    );
    double.failNext(
      'GetCallerIdentity',
      fault(500, 'InternalFailure', `internal error near ${secretAccessKey}`),
    );
    const err = await rejection(provider('assume-role').ping({}, NO_CANCEL));
    expect(err.message).toMatch(/\[redacted\]/);
    expect(err.message).not.toContain(secretAccessKey);
  });

  it('a connection that is not credentials JSON stops the load, naming where it looked and nothing it found', () => {
    const registry = createKindRegistry([awsKind]);
    const junk = 'AKIAEXAMPLE:hunter2-very-secret';
    const spec = {
      id: 'junk',
      kind: 'aws',
      connection: { env: 'X_AWS' },
      options: awsOptions(double, 'assume-role'),
    };
    expect(() => registry.resolve(spec, { X_AWS: junk })).toThrow(/resource junk: env X_AWS is not JSON/);
    try {
      registry.resolve(spec, { X_AWS: junk });
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });

  it('without a connection, the SDK’s default chain supplies the credentials (here, the environment)', async () => {
    const { accessKeyId, secretAccessKey } = JSON.parse(double.connection()) as Record<string, string>;
    if (!accessKeyId || !secretAccessKey) throw new Error('the double gave no key');
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = secretAccessKey;
    try {
      const registry = createKindRegistry([awsKind]);
      const spec = { id: 'chain', kind: 'aws', connection: null, options: awsOptions(double, 'assume-role') };
      const p = registry.create(registry.resolve(spec, {}), { owner: newOwner() });
      await expect(p.ping({}, NO_CANCEL)).resolves.toMatchObject({
        target: expect.stringContaining(ACCOUNT_ID),
      });
      await p.close();
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.key === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.key;
    }
  });
});

describe('aws options at policy load', () => {
  const policy = (resource: string) => `version: 1
users:
  - { id: alice, email: alice@example.com, teams: [ops] }
resources:
${resource}
rules:
  - id: r
    resources: [cloud]
    roles: ['*']
    who: { teams: [ops] }
    duration: { default: 1h, max: 1h }
    approval: [auto]
`;
  const problems = (text: string) => {
    try {
      parsePolicy(text, 'stint.yaml', [awsKind]);
    } catch (e) {
      if (isPolicyError(e))
        return e.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.field}: ${p.message}`);
      throw e;
    }
    return [];
  };

  it('an unknown mode, a bad account id and a grant that is no ARN are each located to file:line:col', () => {
    const found = problems(
      policy(`  - id: cloud
    kind: aws
    sensitivity: routine
    options: { mode: assume-roles }
    roles:
      read: { grants: ['arn:aws:iam::111122223333:role/stint/StintRead'] }
  - id: cloud2
    kind: aws
    sensitivity: routine
    options:
      mode: permission-set
      instanceArn: 'arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6'
      accountId: '1234'
      principals: { alice: '9067642ac7-11111111-2222-3333-4444-555555555555' }
    roles:
      read: { grants: [ReadOnlyAccess] }`),
    );
    expect(found).toEqual([
      'stint.yaml:8:22: resources[0].options.mode: mode must be assume-role or permission-set',
      'stint.yaml:17:18: resources[1].options.accountId: must be a 12-digit AWS account id',
      'stint.yaml:20:24: resources[1].roles.read.grants[0]: must be an IAM role ARN or an IAM Identity Center permission set ARN',
    ]);
  });

  it('a good resource loads with no connection (the default chain) and its defaults filled in', () => {
    const p = parsePolicy(
      policy(`  - id: cloud
    kind: aws
    sensitivity: routine
    options: { mode: assume-role }
    roles:
      read: { grants: ['arn:aws:iam::111122223333:role/stint/StintRead'] }`),
      'stint.yaml',
      [awsKind],
    );
    expect(p.resources.get('cloud')?.options).toEqual({
      mode: 'assume-role',
      region: 'us-east-1',
      rolePathPrefix: '/',
    });
    expect(p.resources.get('cloud')?.connection).toBeNull();
  });
});
