import { IAMClient } from '@aws-sdk/client-iam';
import { SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { STSClient } from '@aws-sdk/client-sts';
import type { StintError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import { cancelledError, type TargetOwner } from '../provider.js';
import type { AwsConfig } from './aws-config.js';
import { awsFailure } from './aws-errors.js';

/** A call that has not connected by then is abandoned; the SDK retries once (maxAttempts 2) within the deadline. */
const CONNECT_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 6_000;

/** Everything a step needs to reach AWS: the SDK clients, who Stint is there, and how failures read. */
export interface AwsTarget {
  config: AwsConfig;
  owner: TargetOwner;
  logger: Logger | undefined;
  sts: STSClient;
  iam: IAMClient;
  sso: SSOAdminClient;
  /** Stint's clock, in ms: what windows and ledger entries are judged by (a test may move it). */
  now(): number;
  /**
   * Runs one SDK call with the signal as its abortSignal: refuses to start once aborted, and turns any failure into
   * the StintError callers see.
   */
  send<T>(
    action: string,
    signal: AbortSignal,
    call: (options: { abortSignal: AbortSignal }) => Promise<T>,
  ): Promise<T>;
  fail(action: string, err: unknown, signal: AbortSignal): StintError;
  close(): void;
}

export function connectAws(
  config: AwsConfig,
  owner: TargetOwner,
  logger: Logger | undefined,
  now: () => number = Date.now,
): AwsTarget {
  const { region, endpoints } = config.options;
  const common = {
    region,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
    ...(config.credentials ? { credentials: config.credentials } : {}),
  };
  const sts = new STSClient({ ...common, ...(endpoints?.sts ? { endpoint: endpoints.sts } : {}) });
  const iam = new IAMClient({ ...common, ...(endpoints?.iam ? { endpoint: endpoints.iam } : {}) });
  const sso = new SSOAdminClient({
    ...common,
    ...(endpoints?.ssoAdmin ? { endpoint: endpoints.ssoAdmin } : {}),
  });
  const fail = (action: string, err: unknown, signal: AbortSignal) =>
    awsFailure(config.resourceId, action, err, signal);
  return {
    config,
    owner,
    logger,
    sts,
    iam,
    sso,
    now,
    fail,
    async send(action, signal, call) {
      if (signal.aborted) throw cancelledError(`aws target ${config.resourceId}: ${action}`, signal);
      try {
        return await call({ abortSignal: signal });
      } catch (err) {
        throw fail(action, err, signal);
      }
    },
    close() {
      sts.destroy();
      iam.destroy();
      sso.destroy();
    },
  };
}

/** Waits, or stops with the caller's cancellation. */
export function pause(ms: number, signal: AbortSignal, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(cancelledError(what, signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledError(what, signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
