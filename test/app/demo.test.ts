import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareDemo } from '../../src/app/demo.js';
import { parseSkey } from '../../src/audit/log/signed-note.js';

describe('the demo data folder', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const folder = () => {
    const d = mkdtempSync(join(tmpdir(), 'stint-demo-'));
    dirs.push(d);
    return d;
  };
  const keyName = (dir: string) =>
    parseSkey(readFileSync(join(dir, 'audit-signing.key'), 'utf8').trim()).name;

  it('lets the quick start approve with a host-made session (STINT_HOST_SESSIONS=full), unless told otherwise', () => {
    const env: NodeJS.ProcessEnv = {};
    prepareDemo(folder(), env);
    expect(env.STINT_HOST_SESSIONS).toBe('full');
    const strict: NodeJS.ProcessEnv = { STINT_HOST_SESSIONS: 'first-factor' };
    prepareDemo(folder(), strict);
    expect(strict.STINT_HOST_SESSIONS).toBe('first-factor');
  });

  it('names the audit signing key (the log origin) after the deployment', () => {
    const dir = folder();
    prepareDemo(dir, {});
    expect(keyName(dir)).toBe('stint-demo/audit');

    const renamed = folder();
    const policy = readFileSync(join(dir, 'stint.yaml'), 'utf8').replace(
      /deployment: stint-demo/,
      'deployment: acme-prod',
    );
    expect(policy).toContain('deployment: acme-prod');
    writeFileSync(join(renamed, 'stint.yaml'), policy);
    prepareDemo(renamed, {});
    expect(keyName(renamed)).toBe('acme-prod/audit');
  });

  it('a policy given elsewhere names the key; an existing key is kept (the origin never changes)', () => {
    const dir = folder();
    const elsewhere = join(folder(), 'policy.yaml');
    const example = readFileSync(new URL('../../examples/stint.yaml', import.meta.url), 'utf8');
    writeFileSync(elsewhere, example.replace(/deployment: stint-demo/, 'deployment: payments-eu'));
    prepareDemo(dir, {}, elsewhere);
    expect(keyName(dir)).toBe('payments-eu/audit');
    writeFileSync(elsewhere, example.replace(/deployment: stint-demo/, 'deployment: other'));
    prepareDemo(dir, {}, elsewhere);
    expect(keyName(dir)).toBe('payments-eu/audit');
  });
});
