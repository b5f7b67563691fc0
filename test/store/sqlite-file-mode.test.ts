import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../../src/store/database.js';

const mode = (path: string) => statSync(path).mode & 0o777;

/**
 * The SQLite store is the audit trail: whoever can write it can append and blank events. Its file and the
 * WAL/shared-memory files SQLite keeps beside it are the owner's only, whatever the umask.
 */
describe('the SQLite store file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const folder = () => {
    const d = mkdtempSync(join(tmpdir(), 'stint-store-mode-'));
    dirs.push(d);
    return d;
  };

  it('is created 0600, and so are its -wal and -shm files', async () => {
    const previous = process.umask(0o022);
    try {
      const file = join(folder(), 'data', 'stint.db');
      const store = openDatabase(`sqlite:${file}`);
      await migrate(store);
      expect(mode(join(file, '..'))).toBe(0o700);
      expect(mode(file)).toBe(0o600);
      expect(mode(`${file}-wal`)).toBe(0o600);
      expect(mode(`${file}-shm`)).toBe(0o600);
      await store.close();
    } finally {
      process.umask(previous);
    }
  });

  it('an existing store made 0644 is narrowed to 0600 when opened', async () => {
    const dir = folder();
    const file = join(dir, 'stint.db');
    const first = openDatabase(`sqlite:${file}`);
    await migrate(first);
    await first.close();
    chmodSync(file, 0o644);
    writeFileSync(`${file}-wal`, '');
    chmodSync(`${file}-wal`, 0o644);
    const again = openDatabase(`sqlite:${file}`);
    await migrate(again);
    expect(mode(file)).toBe(0o600);
    expect(mode(`${file}-wal`)).toBe(0o600);
    await again.close();
  });
});
