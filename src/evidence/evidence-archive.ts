import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { create, entries } from 'tar';

/** What a pack may hold, below its one top directory: nothing else is written out of an archive. */
const PACK_FILE =
  /^(README\.md|evidence\.json|access\.jsonl|breakglass\.json|recordings\.json|policies\.json|witnesses\.json|policies\/[0-9a-f]{12}\.yaml|proofs\/(consistency|inclusion-\d{1,15})\.json|recordings\/rec_[A-Za-z0-9_-]{8,64}\/\d{6}\.cast|audit\/(events-\d{4}-\d{2}-\d{2}\.jsonl|checkpoint\.txt|start\.json|consistency\.json|manifest\.json))$/;
const PACK_DIR = /^(audit|policies|proofs|recordings(\/rec_[A-Za-z0-9_-]{8,64})?)\/?$/;
const TOP = /^stint-evidence-[A-Za-z0-9._-]+$/;
/** Far above any quarter's events, and a bound on what a hostile archive can make this machine write. */
const MAX_TOTAL_BYTES = 64 * 1024 ** 3;

export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

/** tar.gz of the pack directory, its top directory the pack's name. */
export async function archivePack(packDir: string, file: string): Promise<void> {
  await create({ gzip: true, file, cwd: dirname(packDir), portable: true }, [basename(packDir)]);
}

/**
 * Unpacks a pack into `into` (an empty directory) and answers the pack's directory. Entries are read one by one
 * and only the pack's own file names are written, by this code, under the one top directory: no link, device,
 * absolute path or `..` leaves the archive, and a repeated name is refused rather than overwriting.
 */
export async function extractPack(file: string, into: string): Promise<string> {
  let top: string | null = null;
  const seen = new Set<string>();
  let total = 0;
  const input = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
  try {
    for await (const entry of entries(input)) {
      const path = entry.path.replace(/\/+$/, '');
      const [head, ...rest] = path.split('/');
      const inner = rest.join('/');
      if (!head || !TOP.test(head) || (top !== null && head !== top)) {
        throw new ArchiveError(
          `${entry.path}: not part of an evidence pack (one stint-evidence-… directory)`,
        );
      }
      top = head;
      if (entry.type === 'Directory') {
        if (inner !== '' && !PACK_DIR.test(inner))
          throw new ArchiveError(`${entry.path}: unexpected directory`);
        continue;
      }
      if (entry.type !== 'File' && entry.type !== 'OldFile') {
        throw new ArchiveError(`${entry.path}: a ${entry.type} entry has no place in an evidence pack`);
      }
      if (!PACK_FILE.test(inner)) throw new ArchiveError(`${entry.path}: not a file an evidence pack holds`);
      if (seen.has(inner)) throw new ArchiveError(`${entry.path} appears twice in the archive`);
      seen.add(inner);
      total += entry.size ?? 0;
      if (total > MAX_TOTAL_BYTES) throw new ArchiveError('the archive unpacks to more than 64 GiB');
      const target = join(into, head, ...inner.split('/'));
      await mkdir(dirname(target), { recursive: true });
      let written = 0;
      const limit = entry.size ?? 0;
      const bounded = new Transform({
        transform(chunk: Buffer, _enc, done) {
          written += chunk.length;
          done(
            written > limit ? new ArchiveError(`${entry.path} is longer than its header says`) : null,
            chunk,
          );
        },
      });
      await pipeline(
        Readable.fromWeb(entry.body as never),
        bounded,
        createWriteStream(target, { flags: 'wx', mode: 0o644 }),
      );
    }
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`not a readable tar.gz: ${(e as Error).message}`);
  }
  if (top === null) throw new ArchiveError('the archive is empty');
  const dir = join(into, top);
  if (!(await stat(dir).catch(() => null))?.isDirectory())
    throw new ArchiveError('the archive holds no pack directory');
  return dir;
}
