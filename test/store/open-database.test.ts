import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';

describe('openDatabase', () => {
  it('refuses a URL of another scheme as a configuration error, not a bad request', () => {
    for (const url of ['mysql://root@127.0.0.1/stint', 'stint.db', '']) {
      expect(() => openDatabase(url)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/sqlite:/) }),
      );
    }
  });
});
