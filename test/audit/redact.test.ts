import { describe, expect, it } from 'vitest';
import { redact } from '../../src/audit/redact.js';

describe('audit redaction', () => {
  it('replaces secret-looking keys at any depth and keeps everything else', () => {
    const out = redact({
      reason: 'INC-1',
      password: 'hunter2',
      nested: { apiKey: 'k', token: 't', list: [{ secret: 's', ok: 1 }], url: 'postgres://u:p@h/db' },
      principal: 'stint_req_1',
    });
    expect(out).toEqual({
      reason: 'INC-1',
      password: '[redacted]',
      nested: {
        apiKey: '[redacted]',
        token: '[redacted]',
        list: [{ secret: '[redacted]', ok: 1 }],
        url: '[redacted]',
      },
      principal: 'stint_req_1',
    });
    expect(JSON.stringify(out)).not.toMatch(/hunter2|postgres:\/\//);
  });
});
