import { parentPort } from 'node:worker_threads';
import { type ChunkTask, hashChunk } from './chunk.js';

/**
 * Worker entry for `createHashPool`: hashes one chunk per message and moves the result buffer back. An error
 * is reported as a message (not thrown) so the pool can fail the one task cleanly and name the cause.
 */
const port = parentPort;
if (!port) throw new Error('hash-worker.ts runs only as a worker thread');

port.on('message', (task: ChunkTask) => {
  try {
    const result = hashChunk(task);
    port.postMessage({ ok: true, result }, [result.hashes.buffer as ArrayBuffer]);
  } catch (e) {
    port.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) });
  }
});
