import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { TEST_POLICY } from '../support/test-policy.js';
import { BREAKGLASS_POLICY } from './support.js';

/** The problems parsing `text` reports, as `line:column field: message`. */
function problems(text: string): string[] {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (e) {
    if (e instanceof PolicyError)
      return e.problems.map((p) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
    throw e;
  }
  return [];
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

const withBlock = (block: string) => `${TEST_POLICY}\nbreakglass:\n${block}`;

describe('the policy’s breakglass block', () => {
  it('loads with its defaults: escalation 15m, a drill every 365 days, the postmortem due in 5 days', () => {
    const policy = parsePolicy(BREAKGLASS_POLICY, 'policy.yaml');
    expect(policy.breakglass).toEqual([
      {
        id: 'prod-emergency',
        description: '',
        resources: ['prod-db'],
        roles: ['admin', 'read'],
        eligible: { users: ['sam'], teams: ['payments'] },
        maxDurationSeconds: 1800,
        channels: ['security-pager', 'security-chat'],
        escalateAfterSeconds: 600,
        drillEverySeconds: 365 * 86_400,
        postmortem: { owner: 'sam', dueSeconds: 3 * 86_400 },
      },
      {
        id: 'staging-emergency',
        description: '',
        resources: ['staging-db'],
        roles: ['*'],
        eligible: { users: ['bob'], teams: [] },
        maxDurationSeconds: 3600,
        channels: ['security-pager'],
        escalateAfterSeconds: 900,
        drillEverySeconds: 365 * 86_400,
        postmortem: { owner: null, dueSeconds: 5 * 86_400 },
      },
    ]);
    expect(parsePolicy(TEST_POLICY, 'policy.yaml').breakglass).toEqual([]);
  });

  it('refuses what it cannot allow, each problem at its file:line:column', () => {
    const text = withBlock(`  - id: too-long
    resources: [prod-db, nowhere]
    roles: [admin, dba]
    who: { users: [zed], teams: [ghosts] }
    maxDuration: 2h
    channels: [pager, pager]
    escalateAfter: 30s
    drillEvery: 30d
    postmortem: { owner: nobody, due: 60d }
  - id: too-long
    resources: [prod-db]
    roles: ['*', admin]
    who: {}
    maxDuration: 30m
    channels: [Pager!]
    unknownField: 1
`);
    const found = problems(text);
    const at = (needle: string) => lineOf(text, needle);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(
            `^${at('    channels: [Pager!]')}:\\d+ breakglass\\[1\\]\\.channels\\[0\\]: must be a channel name`,
          ),
        ),
        expect.stringMatching(
          new RegExp(`^${at('    unknownField: 1')}:5 breakglass\\[1\\]\\.unknownField: unknown field`),
        ),
      ]),
    );
    // Shape errors stop the load first; with the shape fixed, every cross-field problem is reported together.
    const shaped = text.replace('[Pager!]', '[pager]').replace('    unknownField: 1\n', '');
    const cross = problems(shaped);
    const line = (needle: string) => lineOf(shaped, needle);
    expect(cross).toEqual([
      `${line('resources: [prod-db, nowhere]')}:26 breakglass[0].resources[1]: unknown resource "nowhere"`,
      `${line('roles: [admin, dba]')}:20 breakglass[0].roles[1]: resource "prod-db" has no role "dba"`,
      `${line('who: { users: [zed]')}:20 breakglass[0].who.users[0]: unknown user "zed"`,
      `${line('who: { users: [zed]')}:34 breakglass[0].who.teams[0]: no user is in team "ghosts"`,
      `${line('maxDuration: 2h')}:18 breakglass[0].maxDuration: maxDuration 2h is longer than break-glass allows (1h)`,
      `${line('channels: [pager, pager]')}:23 breakglass[0].channels[1]: channel "pager" is listed twice`,
      `${line('escalateAfter: 30s')}:20 breakglass[0].escalateAfter: escalateAfter must be between 1m and 1d`,
      `${line('drillEvery: 30d')}:17 breakglass[0].drillEvery: drillEvery must be between 90d and 365d`,
      `${line('postmortem: { owner: nobody')}:26 breakglass[0].postmortem.owner: unknown user "nobody"`,
      `${line('postmortem: { owner: nobody')}:39 breakglass[0].postmortem.due: postmortem.due must be between 1d and 30d`,
      `${line('  - id: too-long') + 9}:9 breakglass[1].id: duplicate break-glass id "too-long" (first at line ${line('  - id: too-long')})`,
      `${line("roles: ['*', admin]")}:12 breakglass[1].roles: "*" already means every role: list it alone`,
      `${line('who: {}')}:10 breakglass[1].who: name at least one team or user who may break glass`,
    ]);
  });

  it('a resource in two entries is refused: who may break glass there must not depend on their order', () => {
    const text = withBlock(`  - id: one
    resources: [prod-db]
    roles: [admin]
    who: { users: [alice] }
    maxDuration: 30m
    channels: [pager]
  - id: two
    resources: [prod-db]
    roles: [read]
    who: { users: [bob] }
    maxDuration: 30m
    channels: [pager]
`);
    expect(problems(text)).toEqual([
      `${lineOf(text, 'id: two') + 1}:17 breakglass[1].resources[0]: resource "prod-db" is already in break-glass entry "one"`,
    ]);
  });
});
