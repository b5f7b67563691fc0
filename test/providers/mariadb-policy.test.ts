import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { PolicyProblem } from '../../src/policy/policy-types.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import { mariadbKind } from '../../src/providers/mariadb/index.js';
import type { parseMariaDbConfig } from '../../src/providers/mariadb/mariadb-config.js';
import { redact } from '../../src/providers/mariadb/mariadb-errors.js';
import { nativePasswordHash } from '../../src/providers/mariadb/native-password.js';
import { isPrincipalName, principalFor } from '../../src/providers/mariadb/principal-name.js';
import { resolveProviderConfig } from '../../src/providers/registry.js';
import { lineOf, policyText, problemAt, stintErrorOf } from '../policy/fixtures.js';

/** BASE with a MariaDB resource appended, edited by `edit`. */
// biome-ignore lint/suspicious/noExplicitAny: tests break the resource's shape on purpose
function withMariaDb(edit: (r: any) => void = () => {}): string {
  return policyText((p) => {
    const resource = {
      id: 'orders-mdb',
      kind: 'mariadb',
      sensitivity: 'routine',
      connection: { env: 'STINT_ORDERS_MDB_URL' },
      options: { userHost: '10.0.%', connectionLimit: 5 },
      roles: { read: { grants: ['orders_read'] } },
    };
    edit(resource);
    p.resources.push(resource);
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

describe('mariadb kind: what the policy may say', () => {
  it('takes its options and one role per policy role', () => {
    const policy = parsePolicy(withMariaDb(), 'stint.yaml', BUILTIN_KINDS);
    expect(policy.resources.get('orders-mdb')).toMatchObject({
      kind: 'mariadb',
      options: { userHost: '10.0.%', connectionLimit: 5 },
    });
  });

  it('bad options are refused at file:line:column of the option, without echoing the value', () => {
    const text = withMariaDb((r) => {
      r.options = {
        userHost: "%' OR 1=1 --",
        connectionLimit: 0,
        expiryEvent: 'yes',
        publicPort: 70000,
        sslmode: 1,
      };
    });
    const problems = problemsOf(text);
    const host = problemAt(problems, 'resources[2].options.userHost');
    expect(host).toMatchObject({ file: 'stint.yaml', line: lineOf(text, 'userHost') });
    expect(host.column).toBeGreaterThan(0);
    expect(host.message).toMatch(/^must be an account host/);
    expect(host.message).not.toContain('OR 1=1');
    expect(problemAt(problems, 'resources[2].options.connectionLimit').line).toBe(
      lineOf(text, 'connectionLimit'),
    );
    expect(problemAt(problems, 'resources[2].options.expiryEvent').message).toBe('must be true or false');
    expect(problemAt(problems, 'resources[2].options.publicPort').line).toBe(lineOf(text, 'publicPort'));
    expect(problemAt(problems, 'resources[2].options.sslmode').line).toBe(lineOf(text, 'sslmode'));
  });

  it('grants that are not one safe role name are refused where they are written', () => {
    const text = withMariaDb((r) => {
      r.roles = {
        read: { grants: ['orders_read`; DROP USER root'] },
        both: { grants: ['orders_read', 'orders_write'] },
      };
    });
    const problems = problemsOf(text);
    const unsafe = problemAt(problems, 'resources[2].roles.read.grants[0]');
    expect(unsafe.line).toBe(lineOf(text, 'DROP USER'));
    expect(unsafe.message).toMatch(/role name on the target/);
    expect(unsafe.message).not.toContain('DROP USER');
    const both = problemAt(problems, 'resources[2].roles.both.grants');
    expect(both.line).toBe(lineOf(text, 'grants:', lineOf(text, 'both:')));
    expect(both.message).toMatch(/exactly one role/);
  });

  it('a missing connection is a located problem: the kind needs one', () => {
    const problems = problemsOf(withMariaDb((r) => delete r.connection));
    expect(problemAt(problems, 'resources[2].id').message).toMatch(/kind mariadb needs a connection/);
  });
});

describe('mariadb kind: configuration read at load', () => {
  const spec = (options: object = {}) => ({
    id: 'orders-mdb',
    kind: 'mariadb',
    connection: { env: 'MDB_URL' },
    options,
  });

  it('reads the admin URL and lists its password for the wrapper to scrub', () => {
    const config = resolveProviderConfig(spec({ userHost: '10.0.%' }), {
      MDB_URL: 'mariadb://stint_admin:p%40ss-w0rd-123@db.internal/orders',
    }) as ReturnType<typeof parseMariaDbConfig>;
    expect(config).toMatchObject({
      host: 'db.internal',
      port: 3306,
      user: 'stint_admin',
      password: 'p@ss-w0rd-123',
      database: 'orders',
      userHost: '10.0.%',
      publicHost: 'db.internal',
      expiryEvent: true,
    });
    expect(config.secrets).toEqual(
      expect.arrayContaining([
        'p@ss-w0rd-123',
        'p%40ss-w0rd-123',
        'mariadb://stint_admin:p%40ss-w0rd-123@db.internal/orders',
      ]),
    );
  });

  it('refuses a URL that is not mysql:// or names no user, as CONFIG_INVALID naming where it looked, not the value', () => {
    const cases = [
      ['postgres://u:pw-123456@h/db', 'env MDB_URL must be a mysql:// or mariadb:// URL'],
      ['not a url pw-123456', 'env MDB_URL is not a valid URL'],
      ['mysql://:pw-123456@h/db', 'env MDB_URL must name the admin user'],
    ] as const;
    for (const [url, message] of cases) {
      const err = stintErrorOf(() => resolveProviderConfig(spec(), { MDB_URL: url }));
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toBe(`resource orders-mdb: ${message}`);
      expect(err.message).not.toContain('pw-123456');
    }
    expect(stintErrorOf(() => resolveProviderConfig(spec(), {})).message).toBe(
      'resource orders-mdb: env MDB_URL is not set',
    );
  });

  it('declares what the suites and jobs rely on', () => {
    expect(mariadbKind.capabilities).toEqual({
      revocation: 'remove',
      listable: true,
      endsSessions: true,
      contactsTargetAtIssue: true,
      inventory: { lists: 'standing', sees: expect.stringContaining('stint_meta.principals') },
    });
  });
});

describe('mariadb kind: names and secrets', () => {
  it('principal names: stint_ + request id, at most 32 characters, distinct for long ids sharing a prefix', () => {
    expect(principalFor('req_0123456789abcdef')).toBe('stint_req_0123456789abcdef');
    expect(principalFor('Ticket-42')).toBe('stint_ticket_42');
    const long1 = principalFor(`${'x'.repeat(40)}-1`);
    const long2 = principalFor(`${'x'.repeat(40)}-2`);
    expect(long1).not.toBe(long2);
    for (const n of [long1, long2, principalFor('')]) {
      expect(n.length).toBeLessThanOrEqual(32);
      expect(isPrincipalName(n)).toBe(true);
    }
    for (const n of ['stint_admin`', "stint_x'@'%", 'root', `stint_${'a'.repeat(40)}`])
      expect(isPrincipalName(n)).toBe(false);
  });

  it('redacts password clauses and hashes a server could echo', () => {
    const hash = nativePasswordHash('pw-for-redact-test');
    const echoed = `You have an error near 'IDENTIFIED BY PASSWORD '${hash}' WITH MAX_USER_CONNECTIONS' at line 1; url mysql://u:pw-for-redact-test@h`;
    const out = redact(echoed, ['pw-for-redact-test']);
    expect(out).not.toContain(hash);
    expect(out).not.toContain('pw-for-redact-test');
  });
});
