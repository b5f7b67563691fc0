import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/app/config.js';
import { isStintError, type StintError } from '../../src/domain/errors.js';

const VALID = {
  STINT_POLICY: '/etc/stint/policy.yaml',
  STINT_ENCRYPTION_KEY: 'k',
  STINT_AUDIT_SIGNING_KEY: 's',
};

function refusal(env: NodeJS.ProcessEnv): StintError {
  try {
    resolveConfig({}, env);
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected the configuration to be refused');
}

/** A bad setting stops the server with CONFIG_INVALID and names where the value came from. */
describe('server configuration errors', () => {
  it('accepts a complete configuration', () => {
    expect(resolveConfig({}, VALID).port).toBe(7070);
  });

  it('names the variable of a malformed value', () => {
    const e = refusal({ ...VALID, STINT_PORT: 'eighty' });
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/^invalid configuration: STINT_PORT \(or --port\): /);
    expect(refusal({ ...VALID, STINT_SWEEP_INTERVAL_MS: '5' }).message).toContain('STINT_SWEEP_INTERVAL_MS');
    expect(refusal({ ...VALID, STINT_AUDIT_RETENTION_DAYS: '30' }).message).toContain(
      'STINT_AUDIT_RETENTION_DAYS: audit retention must be at least 365 days',
    );
  });

  it('names every missing required setting at once', () => {
    const e = refusal({});
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('STINT_POLICY (or --policy)');
    expect(e.message).toContain('STINT_ENCRYPTION_KEY or STINT_ENCRYPTION_KEY_FILE');
    expect(e.message).toContain('STINT_AUDIT_SIGNING_KEY or STINT_AUDIT_SIGNING_KEY_FILE');
  });

  it('names a key file that cannot be read, without its content', () => {
    const e = refusal({ ...VALID, STINT_ENCRYPTION_KEY: '', STINT_ENCRYPTION_KEY_FILE: '/nonexistent/key' });
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(
      'invalid configuration: STINT_ENCRYPTION_KEY_FILE: /nonexistent/key cannot be read (ENOENT)',
    );
  });
});
