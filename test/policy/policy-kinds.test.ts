import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { PolicyKind, PolicyProblem } from '../../src/policy/policy-types.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import { lineOf, policyText, problemAt } from './fixtures.js';

/** A kind with a default credential chain and grants of its own shape, as a cloud kind would declare. */
const CLOUD: PolicyKind = {
  kind: 'cloud',
  options: z.strictObject({ region: z.string().regex(/^[a-z]+-[a-z]+-\d$/, { error: 'must be a region' }) }),
  grants: z.array(z.string().startsWith('arn:', { error: 'must be an ARN' })).min(1),
  connection: 'optional',
};
const KINDS = [...BUILTIN_KINDS, CLOUD];

function problemsOf(text: string): PolicyProblem[] {
  try {
    parsePolicy(text, 'stint.yaml', KINDS);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return (e as PolicyError).problems;
  }
  throw new Error('expected the policy to be refused');
}

describe('policy: each resource checked against its kind', () => {
  it('takes a kind’s options and grants, parsed by its schemas; connection optional where the kind allows', () => {
    const text = policyText((p) => {
      p.resources[0].options = { publicHost: 'db.example.com', publicPort: 6432, connectionLimit: 3 };
      p.resources.push({
        id: 'cloud-acct',
        kind: 'cloud',
        sensitivity: 'routine',
        options: { region: 'eu-west-1' },
        roles: { read: { grants: ['arn:aws:iam::1:policy/read'] } },
      });
    });
    const policy = parsePolicy(text, 'stint.yaml', KINDS);
    expect(policy.resources.get('prod-db')?.options).toEqual({
      publicHost: 'db.example.com',
      publicPort: 6432,
      connectionLimit: 3,
    });
    expect(policy.resources.get('staging-db')?.options).toEqual({});
    expect(policy.resources.get('cloud-acct')).toMatchObject({
      connection: null,
      options: { region: 'eu-west-1' },
    });
  });

  it('bad options are refused at file:line:column of the option', () => {
    const text = policyText((p) => {
      p.resources[0].options = { publicPort: 'high', conectionLimit: 3 };
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'resources[0].options.publicPort')).toMatchObject({
      file: 'stint.yaml',
      line: lineOf(text, 'publicPort'),
      message: 'must be a whole number',
    });
    expect(problemAt(problems, 'resources[0].options.conectionLimit').line).toBe(
      lineOf(text, 'conectionLimit'),
    );
  });

  it('grants the kind cannot name are refused where they are written', () => {
    const text = policyText((p) => {
      p.resources[1].roles.write.grants = ['app write; DROP TABLE x'];
      p.resources.push({
        id: 'cloud-acct',
        kind: 'cloud',
        sensitivity: 'routine',
        options: { region: 'eu-west-1' },
        roles: { read: { grants: ['app_read'] } },
      });
    });
    const problems = problemsOf(text);
    const pg = problemAt(problems, 'resources[1].roles.write.grants[0]');
    expect(pg.line).toBe(lineOf(text, 'DROP TABLE'));
    expect(pg.message).toMatch(/role name on the target/);
    const cloud = problemAt(problems, 'resources[2].roles.read.grants[0]');
    expect(cloud).toMatchObject({
      message: 'must be an ARN',
      line: lineOf(text, '- app_read', lineOf(text, 'cloud-acct')),
    });
  });

  it('an unknown kind, and a missing connection where the kind needs one, are located problems', () => {
    const text = policyText((p) => {
      p.resources[0].kind = 'mongo';
      delete p.resources[1].connection;
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'resources[0].kind')).toMatchObject({
      line: lineOf(text, 'kind: mongo'),
      // Every kind the server was given, in registration order (the built-in ones grow).
      message: `unknown kind "mongo"; this server knows: ${KINDS.map((k) => k.kind).join(', ')}`,
    });
    expect(problemAt(problems, 'resources[1].id').message).toMatch(/kind postgres needs a connection/);
  });
});
