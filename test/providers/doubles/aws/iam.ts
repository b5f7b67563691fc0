import { authorize, type Caller } from './authz.js';
import type { AwsState, Role } from './state.js';
import {
  expectParams,
  fault,
  memberList,
  memberTags,
  type QueryParams,
  queryAnswer,
  required,
  type WireAnswer,
  xmlEscape,
  xmlFields,
} from './wire.js';

export const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
/** IAM's quota on a role's inline policies together, whitespace not counted. */
const INLINE_QUOTA = 10_240;
const TAGS_PER_ROLE = 50;

function roleOf(state: AwsState, p: QueryParams): Role {
  const name = required(p, 'RoleName');
  const role = state.roles.get(name);
  if (!role) throw fault(404, 'NoSuchEntity', `The role with name ${name} cannot be found.`);
  return role;
}

const tagsXml = (tags: Map<string, string>) =>
  [...tags].map(([Key, Value]) => `<member>${xmlFields({ Key, Value })}</member>`).join('');

function roleXml(role: Role, withTags: boolean): string {
  return `${xmlFields({
    Path: role.path,
    RoleName: role.name,
    RoleId: role.id,
    Arn: role.arn,
    CreateDate: '2024-01-01T00:00:00Z',
    AssumeRolePolicyDocument: encodeURIComponent('{"Version":"2012-10-17","Statement":[]}'),
    MaxSessionDuration: role.maxSessionDuration,
  })}${withTags && role.tags.size > 0 ? `<Tags>${tagsXml(role.tags)}</Tags>` : ''}`;
}

/** IAM's Marker/MaxItems paging over a list, the marker being the next index. */
function page<T>(p: QueryParams, items: T[]): { items: T[]; tail: string } {
  const start = Number(p.get('Marker') ?? '0');
  const max = Math.min(Number(p.get('MaxItems') ?? '100'), 1000);
  const slice = items.slice(start, start + max);
  const next = start + slice.length;
  const truncated = next < items.length;
  return {
    items: slice,
    tail: `<IsTruncated>${truncated}</IsTruncated>${truncated ? `<Marker>${next}</Marker>` : ''}`,
  };
}

function checkTag(key: string, value: string): void {
  if (!TAG_KEY.test(key) || /^aws:/i.test(key)) throw fault(400, 'InvalidInput', `invalid tag key ${key}`);
  if (!TAG_VALUE.test(value)) throw fault(400, 'InvalidInput', `invalid value for tag ${key}`);
}

const compactSize = (text: string) => text.replace(/\s/g, '').length;

export function handleIam(
  state: AwsState,
  caller: Caller,
  action: string,
  p: QueryParams,
  now: number,
): WireAnswer {
  const ok = (result: string | null) => queryAnswer(action, IAM_NS, result);
  const allow = (resource: string) => authorize(state, caller, `iam:${action}`, resource, now);
  switch (action) {
    case 'GetRole': {
      expectParams(p, action, ['RoleName']);
      const role = roleOf(state, p);
      allow(role.arn);
      return ok(`<Role>${roleXml(role, true)}</Role>`);
    }
    case 'ListRoles': {
      expectParams(p, action, ['PathPrefix', 'Marker', 'MaxItems']);
      allow('*');
      const prefix = p.get('PathPrefix') ?? '/';
      const roles = [...state.roles.values()].filter((r) => r.path.startsWith(prefix));
      const { items, tail } = page(p, roles);
      return ok(
        `<Roles>${items.map((r) => `<member>${roleXml(r, false)}</member>`).join('')}</Roles>${tail}`,
      );
    }
    case 'ListRoleTags': {
      expectParams(p, action, ['RoleName', 'Marker', 'MaxItems']);
      const role = roleOf(state, p);
      allow(role.arn);
      const { items, tail } = page(p, [...role.tags]);
      return ok(`<Tags>${tagsXml(new Map(items))}</Tags>${tail}`);
    }
    case 'TagRole': {
      expectParams(p, action, ['RoleName', 'Tags']);
      const role = roleOf(state, p);
      allow(role.arn);
      const tags = memberTags(p);
      if (tags.length === 0) throw fault(400, 'ValidationError', 'Tags is required');
      for (const t of tags) checkTag(t.Key, t.Value);
      const after = new Map(role.tags);
      for (const t of tags) after.set(t.Key, t.Value);
      if (after.size > TAGS_PER_ROLE)
        throw fault(409, 'LimitExceeded', `Cannot exceed quota for TagsPerRole: ${TAGS_PER_ROLE}`);
      role.tags = after;
      return ok(null);
    }
    case 'UntagRole': {
      expectParams(p, action, ['RoleName', 'TagKeys']);
      const role = roleOf(state, p);
      allow(role.arn);
      for (const k of memberList(p, 'TagKeys')) role.tags.delete(k);
      return ok(null);
    }
    case 'ListRolePolicies': {
      expectParams(p, action, ['RoleName', 'Marker', 'MaxItems']);
      const role = roleOf(state, p);
      allow(role.arn);
      const { items, tail } = page(p, [...role.inline.keys()]);
      return ok(
        `<PolicyNames>${items.map((n) => `<member>${xmlEscape(n)}</member>`).join('')}</PolicyNames>${tail}`,
      );
    }
    case 'GetRolePolicy': {
      expectParams(p, action, ['RoleName', 'PolicyName']);
      const role = roleOf(state, p);
      allow(role.arn);
      const name = required(p, 'PolicyName');
      const doc = role.inline.get(name);
      if (doc === undefined)
        throw fault(404, 'NoSuchEntity', `The role policy with name ${name} cannot be found.`);
      // IAM answers the document URL-encoded (RFC 3986), as its documentation warns.
      return ok(
        xmlFields({ RoleName: role.name, PolicyName: name, PolicyDocument: encodeURIComponent(doc) }),
      );
    }
    case 'PutRolePolicy': {
      expectParams(p, action, ['RoleName', 'PolicyName', 'PolicyDocument']);
      const role = roleOf(state, p);
      allow(role.arn);
      const name = required(p, 'PolicyName');
      if (!POLICY_NAME.test(name)) throw fault(400, 'ValidationError', 'invalid policy name');
      const text = required(p, 'PolicyDocument');
      let doc: { Statement?: unknown };
      try {
        doc = JSON.parse(text) as { Statement?: unknown };
      } catch {
        throw fault(400, 'MalformedPolicyDocument', 'Syntax errors in policy.');
      }
      if (!doc.Statement) throw fault(400, 'MalformedPolicyDocument', 'Missing required field Statement');
      const others = [...role.inline].filter(([n]) => n !== name).map(([, t]) => compactSize(t));
      if (others.reduce((a, b) => a + b, compactSize(text)) > INLINE_QUOTA)
        throw fault(
          409,
          'LimitExceeded',
          `Maximum policy size of ${INLINE_QUOTA} bytes exceeded for role ${role.name}`,
        );
      role.inline.set(name, text);
      return ok(null);
    }
    case 'DeleteRolePolicy': {
      expectParams(p, action, ['RoleName', 'PolicyName']);
      const role = roleOf(state, p);
      allow(role.arn);
      const name = required(p, 'PolicyName');
      if (!role.inline.delete(name))
        throw fault(404, 'NoSuchEntity', `The role policy with name ${name} cannot be found.`);
      return ok(null);
    }
    case 'CreateUser': {
      // What an issued session must NOT be able to do: answered as done when allowed, so over-granting shows.
      expectParams(p, action, ['UserName', 'Path']);
      const userName = required(p, 'UserName');
      const arn = `arn:aws:iam::${state.accountId}:user/${userName}`;
      allow(arn);
      return ok(
        `<User>${xmlFields({ Path: '/', UserName: userName, UserId: 'AIDAUSER', Arn: arn, CreateDate: '2024-01-01T00:00:00Z' })}</User>`,
      );
    }
    default:
      throw fault(400, 'InvalidAction', `the IAM double does not implement ${action}`);
  }
}
