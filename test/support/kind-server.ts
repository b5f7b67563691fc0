/**
 * `stint server` with target kinds a test registers, as a real separate process: the kinds are handed to the
 * server through its start options (the composition root), never put in src/. Arguments: a JSON object with
 * `kindsModule` (a module exporting `kinds`), `policyPath`, `databaseUrl` and `dataDir`.
 */
import { pathToFileURL } from 'node:url';
import { runServer } from '../../src/server/start.js';

const { kindsModule, policyPath, databaseUrl, dataDir } = JSON.parse(process.argv[2] ?? '{}') as Record<
  string,
  string
>;
const { BUILTIN_KINDS } = await import('../../src/providers/kinds.js');
const extra = kindsModule ? ((await import(pathToFileURL(kindsModule).href)) as { kinds: [] }).kinds : [];
await runServer({ policyPath, databaseUrl, dataDir, port: 0, kinds: [...BUILTIN_KINDS, ...extra] });
