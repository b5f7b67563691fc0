import { type RecordingStorage, s3Location } from './recording-storage.js';
import type { S3StorageDeps } from './s3-storage.js';

/**
 * The S3 storage with `@aws-sdk/client-s3` loaded at its first call: the SDK is tens of megabytes resident, and a
 * server recording to a folder or the store should not carry it.
 */
export function lazyS3Storage(deps: S3StorageDeps): RecordingStorage {
  let loading: Promise<RecordingStorage> | undefined;
  const get = () => {
    loading ??= import('./s3-storage.js')
      .then((m) => m.createS3Storage(deps))
      .catch((err: unknown) => {
        loading = undefined;
        throw err;
      });
    return loading;
  };
  return {
    // A recording's row says where it is kept before the SDK is needed.
    location: s3Location(deps.config.bucket, deps.config.prefix, deps.storeId),
    start: async () => (await get()).start(),
    stop: async () => {
      if (loading) await (await loading).stop();
    },
    append: async (id, segment, data) => (await get()).append(id, segment, data),
    seal: async (id, segment, opts) => (await get()).seal(id, segment, opts),
    read: async (id, segment) => (await get()).read(id, segment),
    orphans: async () => (await get()).orphans(),
  };
}
