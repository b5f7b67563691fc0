import { describe, expect, it } from 'vitest';
import { isStintError } from '../../src/domain/errors.js';
import { PolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { PolicyProblem } from '../../src/policy/policy-types.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import { refusal } from '../../src/providers/redis/acl-rules.js';
import { parseName, principalName } from '../../src/providers/redis/principal-name.js';
import { defaultKinds } from '../../src/providers/registry.js';
import type { TargetSpec } from '../../src/providers/target-spec.js';
import { lineOf, policyText, problemAt } from '../policy/fixtures.js';

/** The base policy with one Redis resource, whose `read` role grants `grants` and whose options are `options`. */
function withRedis(grants: unknown[], options?: Record<string, unknown>): string {
  return policyText((p) => {
    p.resources.push({
      id: 'cache',
      kind: 'redis',
      sensitivity: 'routine',
      connection: { env: 'STINT_CACHE_URL' },
      ...(options ? { options } : {}),
      roles: { read: { description: 'Read app keys', grants } },
    });
  });
}

function problemsOf(text: string): PolicyProblem[] {
  try {
    parsePolicy(text, 'stint.yaml', BUILTIN_KINDS);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return (e as PolicyError).problems;
  }
  throw new Error('expected the policy to be refused');
}

const index = (text: string) => {
  const policy = parsePolicy(text, 'stint.yaml', BUILTIN_KINDS);
  return policy.resources.get('cache');
};

describe('redis grants and options at policy load', () => {
  it('takes ACL rules granting commands, categories, keys and channels', () => {
    const grants = [
      '+@read',
      '+@write',
      '-@write',
      '+get',
      '+client|setname',
      '-set',
      '~app:*',
      '%R~cache:*',
      '%W~queue:*',
      '%RW~x:*',
      '&events:*',
      'allkeys',
      'allchannels',
      '+nosuchcommand',
      '-@all',
    ];
    const cache = index(withRedis(grants, { publicHost: 'cache.example.com', publicPort: 6380 }));
    expect(cache?.roles.read?.grants).toEqual(grants);
    expect(cache?.options).toEqual({ publicHost: 'cache.example.com', publicPort: 6380 });
  });

  it('refuses what could escalate or smuggle, each at file:line:column of the grant, saying why', () => {
    const bad: Record<string, RegExp> = {
      '+@admin': /\+@admin is refused/,
      '+@dangerous': /\+@dangerous is refused/,
      '+@all': /\+@all is refused/,
      allcommands: /"allcommands" is refused/,
      '+acl': /\+acl is refused.*@admin or @dangerous/,
      '+acl|setuser': /\+acl\|setuser is refused/,
      '+ACL|SETUSER': /\+acl\|setuser is refused/,
      '+config': /\+config is refused/,
      '+config|set': /\+config\|set is refused/,
      '+client': /\+client is refused/,
      '+client|kill': /\+client\|kill is refused/,
      '+module': /\+module is refused/,
      '+debug': /\+debug is refused/,
      '+keys': /\+keys is refused/,
      '+flushall': /\+flushall is refused/,
      '+replicaof': /\+replicaof is refused/,
      '+shutdown': /\+shutdown is refused/,
      nopass: /"nopass" is refused/,
      on: /"on" is refused/,
      OFF: /"off" is refused/,
      reset: /"reset" is refused/,
      resetpass: /"resetpass" is refused/,
      resetkeys: /"resetkeys" is refused/,
      '>known-password': /passwords are refused/,
      '<known-password': /passwords are refused/,
      '#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8': /passwords are refused/,
      '!5e88': /passwords are refused/,
      '(+@all)': /selectors are refused/,
      clearselectors: /"clearselectors" is refused/,
      'skip-sanitize-payload': /RESTORE/,
      '~app:* >pw': /printable ASCII with no spaces/,
      '~app:*\nuser evil on nopass +@all': /printable ASCII with no spaces/,
      '&"x\\x20>pw"': /must not hold quotes/,
      "~it's": /must not hold quotes/,
      '+@nosuchcategory': /not a Redis ACL category/,
      '~': /1 to 512 printable characters/,
      '%X~a': /must be an ACL rule/,
      get: /must be an ACL rule/,
    };
    const text = withRedis(Object.keys(bad));
    const problems = problemsOf(text);
    Object.entries(bad).forEach(([rule, why], i) => {
      const p = problemAt(problems, `resources[2].roles.read.grants[${i}]`);
      expect(p.file).toBe('stint.yaml');
      expect(p.message, rule).toMatch(why);
      expect(p.column).toBeGreaterThan(1);
    });
    // Located at each item, not at the list: the first and the last item sit on their own lines.
    const first = problemAt(problems, 'resources[2].roles.read.grants[0]');
    const line = lineOf(text, '+@admin');
    expect(first.line).toBe(line);
    // The column of the item's value (after "- "), quoted or not.
    expect(first.column).toBe((text.split('\n')[line - 1] ?? '').indexOf('- ') + 3);
    const last = problemAt(problems, `resources[2].roles.read.grants[${Object.keys(bad).length - 1}]`);
    expect(last.line).toBeGreaterThan(first.line);
    // Nothing else in the policy is blamed.
    expect(problems.every((p) => p.field.startsWith('resources[2].roles.read.grants['))).toBe(true);
  });

  it('refuses an empty grants list and options that do not fit, where they are written', () => {
    const empty = problemsOf(withRedis([]));
    expect(problemAt(empty, 'resources[2].roles.read.grants').message).toMatch(/at least/);

    const text = withRedis(['+get'], { publicPort: 'high', publicHost: 'a host; rm', databse: 3 });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'resources[2].options.publicPort')).toMatchObject({
      line: lineOf(text, 'publicPort'),
      message: 'must be a whole number',
    });
    expect(problemAt(problems, 'resources[2].options.publicHost')).toMatchObject({
      line: lineOf(text, 'publicHost'),
      message: 'must be a host name or address',
    });
    expect(problemAt(problems, 'resources[2].options.databse').line).toBe(lineOf(text, 'databse'));
  });

  it('the same check runs again at issue: refusal() is what the schema applies', () => {
    expect(refusal('+@read')).toBeNull();
    expect(refusal('+@admin')).toMatch(/refused/);
    expect(refusal('-@admin')).toBeNull();
    expect(refusal('-acl')).toBeNull();
    expect(refusal('+acl|whoami')).toBeNull();
    expect(refusal('%rw~a:*')).toBeNull();
    expect(refusal('%RR~a:*')).toMatch(/%R~, %W~ or %RW~/);
  });
});

describe('redis admin connection at load', () => {
  const spec: TargetSpec = { id: 'cache', kind: 'redis', connection: { env: 'URL' }, options: {} };
  const problem = (url: string | undefined) => {
    try {
      defaultKinds.resolve(spec, { URL: url });
    } catch (e) {
      if (isStintError(e) && e.code === 'CONFIG_INVALID') return e.message;
      throw e;
    }
    throw new Error('expected CONFIG_INVALID');
  };

  it('refuses a URL that is not Stint’s own admin user with a password, naming where it looked, never the value', () => {
    const cases: [string | undefined, RegExp][] = [
      [undefined, /env URL is not set/],
      ['not a url s3cret-value', /env URL is not a valid URL/],
      ['postgres://stint_admin:s3cret-value@h:1', /must be a redis:\/\/ or rediss:\/\/ URL/],
      ['redis://:s3cret-value@h:6379', /must name Stint's own admin user/],
      ['redis://default:s3cret-value@h:6379', /not the default user/],
      ['redis://stint_admin@h:6379', /has no password/],
      ['redis://stint_admin:s3cret-value@h:6379/2', /must not name a database/],
      ['redis://stint_admin:s3cret-value@h:6379?tls=1', /query parameters/],
    ];
    for (const [url, why] of cases) {
      const message = problem(url);
      expect(message).toMatch(why);
      expect(message).toMatch(/^resource cache: /);
      expect(message).not.toContain('s3cret-value');
    }
  });

  it('reads host, port, TLS and public address, and lists the password among the secrets', () => {
    const config = defaultKinds.resolve(
      { ...spec, options: { publicHost: 'cache.example.com' } },
      { URL: 'rediss://stint_admin:p%40ss-word@10.0.0.5:6380' },
    ).config as unknown as Record<string, unknown>;
    expect(config).toMatchObject({
      host: '10.0.0.5',
      port: 6380,
      tls: true,
      username: 'stint_admin',
      password: 'p@ss-word',
      publicHost: 'cache.example.com',
      publicPort: 6380,
    });
    expect(config.secrets).toEqual(expect.arrayContaining(['p@ss-word', 'p%40ss-word']));
  });
});

describe('redis user names', () => {
  const marks = { deployment: '0123abcd', store: '0123456789abcdef' };

  it('read back the store and the request they were made for, and nothing that was not made so', () => {
    for (const id of ['req_0123456789abcdef', 'a-b_C', 'with space', 'Ünï.cødé/1', '.2e']) {
      const name = principalName(marks, id);
      expect(name).not.toMatch(/\s/);
      expect(parseName(name)).toEqual({
        deployment: marks.deployment,
        storeId: `st_${marks.store}`,
        requestId: id,
      });
    }
    // Distinct ids, distinct names (case kept: Redis user names are case-sensitive).
    expect(principalName(marks, 'Req_1')).not.toBe(principalName(marks, 'req_1'));
    expect(principalName(marks, 'a.b')).not.toBe(principalName(marks, 'a_b'));
    for (const name of [
      'stint_admin',
      'stint_app',
      'stint_0123abcd_0123456789abcde_req',
      'stint_0123abcd_0123456789ABCDEF_req',
      'stint_0123abcd_0123456789abcdef_',
      'stint_0123abcd_0123456789abcdef_.zz',
      // A verbatim-able id written in hex is not how principalName writes it.
      `stint_0123abcd_0123456789abcdef_.${Buffer.from('req').toString('hex')}`,
    ]) {
      expect(parseName(name), name).toBeNull();
    }
  });
});
