import { randomBytes } from 'node:crypto';
import { authorize, type Caller, callerArn } from './authz.js';
import { type AwsState, randomId, type Session } from './state.js';
import {
  expectParams,
  fault,
  memberList,
  memberTags,
  type QueryParams,
  queryAnswer,
  required,
  type WireAnswer,
  xmlFields,
} from './wire.js';

export const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const NAME = /^[\w+=,.@-]{2,64}$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/** AssumeRole as STS checks it: the caller's rights, the role's trust, then the parameters' AWS limits. */
function assumeRole(state: AwsState, caller: Caller, p: QueryParams, now: number): WireAnswer {
  expectParams(p, 'AssumeRole', [
    'RoleArn',
    'RoleSessionName',
    'DurationSeconds',
    'SourceIdentity',
    'Tags',
    'TransitiveTagKeys',
  ]);
  const arn = required(p, 'RoleArn');
  const sessionName = required(p, 'RoleSessionName');
  const tags = memberTags(p);
  const transitive = memberList(p, 'TransitiveTagKeys');
  const sourceIdentity = p.get('SourceIdentity');
  authorize(state, caller, 'sts:AssumeRole', arn, now);
  if (tags.length > 0) authorize(state, caller, 'sts:TagSession', arn, now);
  if (sourceIdentity !== undefined) authorize(state, caller, 'sts:SetSourceIdentity', arn, now);

  const role = [...state.roles.values()].find((r) => r.arn === arn);
  const who = callerArn(state, caller);
  const trusted =
    role?.trust.principals.has(who) === true &&
    (tags.length === 0 || role.trust.tagSession) &&
    (sourceIdentity === undefined || role.trust.setSourceIdentity);
  // STS says the same for a role that does not exist and one that does not trust the caller.
  if (!role || !trusted)
    throw fault(
      403,
      'AccessDenied',
      `User: ${who} is not authorized to perform: sts:AssumeRole on resource: ${arn}`,
    );

  if (!NAME.test(sessionName))
    throw fault(400, 'ValidationError', "Value at 'roleSessionName' failed to satisfy constraint");
  const duration = Number(p.get('DurationSeconds') ?? '3600');
  if (!Number.isInteger(duration) || duration < 900)
    throw fault(
      400,
      'ValidationError',
      `1 validation error detected: Value '${p.get('DurationSeconds')}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`,
    );
  if (duration > role.maxSessionDuration)
    throw fault(
      400,
      'ValidationError',
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
  if (sourceIdentity !== undefined && !NAME.test(sourceIdentity))
    throw fault(400, 'ValidationError', "Value at 'sourceIdentity' failed to satisfy constraint");
  if (tags.length > 50) throw fault(400, 'ValidationError', 'too many session tags');
  const seen = new Set<string>();
  for (const t of tags) {
    if (!TAG_KEY.test(t.Key) || !TAG_VALUE.test(t.Value) || /^aws:/i.test(t.Key))
      throw fault(400, 'ValidationError', `invalid session tag ${t.Key}`);
    if (seen.has(t.Key.toLowerCase())) throw fault(400, 'InvalidParameterValue', 'Duplicate tag keys found.');
    seen.add(t.Key.toLowerCase());
  }
  for (const k of transitive) {
    if (!seen.has(k.toLowerCase()))
      throw fault(400, 'InvalidParameterValue', 'A transitive tag key must be one of the session tags');
  }

  const session: Session = {
    accessKeyId: randomId('ASIA', 16),
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(96).toString('base64'),
    roleName: role.name,
    sessionName,
    tags: Object.fromEntries(tags.map((t) => [t.Key, t.Value])),
    sourceIdentity,
    issuedAt: now,
    expiresAt: now + duration * 1000,
  };
  state.sessions.set(session.accessKeyId, session);
  return queryAnswer(
    'AssumeRole',
    STS_NS,
    `<Credentials>${xmlFields({
      AccessKeyId: session.accessKeyId,
      SecretAccessKey: session.secretAccessKey,
      SessionToken: session.sessionToken,
      Expiration: new Date(session.expiresAt).toISOString(),
    })}</Credentials><AssumedRoleUser>${xmlFields({
      AssumedRoleId: `${role.id}:${sessionName}`,
      Arn: `arn:aws:sts::${state.accountId}:assumed-role/${role.name}/${sessionName}`,
    })}</AssumedRoleUser>${xmlFields({ PackedPolicySize: 6, SourceIdentity: sourceIdentity })}`,
  );
}

export function handleSts(
  state: AwsState,
  caller: Caller,
  action: string,
  p: QueryParams,
  now: number,
): WireAnswer {
  switch (action) {
    case 'AssumeRole':
      return assumeRole(state, caller, p, now);
    case 'GetCallerIdentity':
      // Needs no permission and no deny stops it, as in AWS.
      expectParams(p, action, []);
      return queryAnswer(
        action,
        STS_NS,
        xmlFields({
          UserId: caller.kind === 'admin' ? 'AIDASTINTDOUBLE' : `AROA:${caller.session.sessionName}`,
          Account: state.accountId,
          Arn: callerArn(state, caller),
        }),
      );
    default:
      throw fault(400, 'InvalidAction', `the STS double does not implement ${action}`);
  }
}
