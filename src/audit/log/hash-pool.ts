import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type ChunkResult, type ChunkTask, hashChunk } from './chunk.js';
import { AuditLogError } from './errors.js';

/**
 * Worker threads that hash chunks of leaves, so verification uses every core: SHA-256 through node:crypto is
 * ~1 µs a call and a leaf costs two calls (its own and, on average, one inner node), which caps one thread
 * near 400,000 events/s. Chunks are independent; only the handful of chunk hashes are combined in order on the
 * calling thread.
 */
export interface HashPool {
  readonly workers: number;
  run(task: ChunkTask): Promise<ChunkResult>;
  close(): Promise<void>;
}

type Reply = { ok: true; result: ChunkResult } | { ok: false; message: string };

interface Job {
  resolve: (r: ChunkResult) => void;
  reject: (e: Error) => void;
}

/**
 * Built, the worker is plain .js next to this module. Run from TypeScript sources (tests, `tsx` scripts) it is
 * a .ts file: a small bootstrap registers tsx's loader in the new thread and then imports it (Node 20 does not
 * apply `--import` loaders to a worker's entry module). The branch is about how the code is run, not tests.
 */
function spawnWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./hash-worker.js', self));
  // Resolved here (ESM conditions), since the eval'd bootstrap has no module location of its own.
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./hash-worker.ts', self).href;
  const bootstrap = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true });
}

/**
 * `workers` threads (default: one per core). With 0, chunks are hashed on the calling thread, which keeps one
 * code path for machines or callers that cannot spawn threads.
 */
export function createHashPool(workers: number = availableParallelism()): HashPool {
  if (!Number.isInteger(workers) || workers < 0) {
    throw new AuditLogError('INVALID_ARGUMENT', `workers must be a non-negative integer, got ${workers}`);
  }
  if (workers === 0) {
    return { workers, run: async (task) => hashChunk(task), close: async () => {} };
  }
  // Tasks are posted as soon as they are submitted, to the worker with the fewest outstanding. A worker reads
  // its port in order, so it goes from one chunk to the next by itself: waiting to hand out work until the
  // submitting thread next yields (to see a reply) left workers idle while that thread packed chunks.
  let failure: Error | null = null;
  let closing = false;
  const threads = Array.from({ length: workers }, () => ({ worker: spawnWorker(), pending: [] as Job[] }));

  const fail = (error: Error): void => {
    failure ??= error;
    for (const thread of threads) for (const job of thread.pending.splice(0)) job.reject(failure);
  };
  for (const thread of threads) {
    thread.worker.on('message', (reply: Reply) => {
      const job = thread.pending.shift();
      if (!job) return;
      if (reply.ok) job.resolve(reply.result);
      else job.reject(new AuditLogError('WORKER_FAILED', `hashing worker: ${reply.message}`));
    });
    thread.worker.on('error', (e) =>
      fail(new AuditLogError('WORKER_FAILED', `hashing worker failed: ${e.message}`)),
    );
    thread.worker.on('exit', (code) => {
      if (!closing) fail(new AuditLogError('WORKER_FAILED', `hashing worker exited with code ${code}`));
    });
  }

  return {
    workers,
    run(task) {
      if (failure) return Promise.reject(failure);
      if (closing) return Promise.reject(new AuditLogError('INVALID_ARGUMENT', 'the hash pool is closed'));
      return new Promise<ChunkResult>((resolve, reject) => {
        const thread = threads.reduce((a, b) => (b.pending.length < a.pending.length ? b : a));
        thread.pending.push({ resolve, reject });
        thread.worker.postMessage(task, [
          task.data.buffer as ArrayBuffer,
          task.offsets.buffer as ArrayBuffer,
          task.kinds.buffer as ArrayBuffer,
          task.recorded.buffer as ArrayBuffer,
        ]);
      });
    },
    async close() {
      closing = true;
      fail(new AuditLogError('WORKER_FAILED', 'the hash pool was closed'));
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}
