import { GoogleAuth, JWT } from 'google-auth-library';
import type { StintError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import { cancelledError, type TargetOwner } from '../provider.js';
import type { GcpConfig } from './gcp-config.js';
import { gcpFailure } from './gcp-errors.js';

const IAM = 'https://iam.googleapis.com';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const REQUEST_TIMEOUT_MS = 6_000;

export interface IamCondition {
  title: string;
  description?: string;
  expression: string;
}

export interface IamBinding {
  role: string;
  members: string[];
  condition?: IamCondition;
}

/** A service account's IAM policy as getIamPolicy answers it (other fields kept as they came). */
export interface IamPolicy {
  version?: number;
  etag: string;
  bindings?: IamBinding[];
  [other: string]: unknown;
}

type Requester = {
  request<T>(opts: {
    url: string;
    method: 'GET' | 'POST';
    data?: unknown;
    signal: AbortSignal;
    timeout: number;
    retry: boolean;
    fetchImplementation: typeof fetch;
  }): Promise<{ data: T }>;
};

/**
 * Node's own fetch, not gaxios's default node-fetch 3: node-fetch destroys a request body no one listens to when
 * the signal is already aborted, an uncaught AbortError that would take the server down
 * (node-fetch/node-fetch#1801, open). The token exchange ADC may make goes the same way.
 */
const transporterOptions = { fetchImplementation: fetch };

/** Everything a step needs to reach Google Cloud IAM, and who Stint is there. */
export interface GcpTarget {
  config: GcpConfig;
  owner: TargetOwner;
  logger: Logger | undefined;
  now(): number;
  getPolicy(email: string, signal: AbortSignal): Promise<IamPolicy>;
  setPolicy(email: string, policy: IamPolicy, signal: AbortSignal): Promise<void>;
  /** The project's service accounts, by email. */
  serviceAccounts(signal: AbortSignal, pageSize?: number): Promise<string[]>;
  fail(action: string, err: unknown, signal: AbortSignal): StintError;
}

/**
 * With a key: a self-signed JWT for the IAM API's audience, signed by the key (Google's JWT access for service
 * accounts: no token exchange, nothing cached server-side). Without: Application Default Credentials.
 */
function authClient(config: GcpConfig): Requester {
  if (config.key) {
    const jwt = new JWT({
      email: config.key.clientEmail,
      key: config.key.privateKey,
      keyId: config.key.privateKeyId,
      transporterOptions,
    });
    jwt.defaultServicePath = 'iam.googleapis.com';
    return jwt as unknown as Requester;
  }
  // A key file found by ADC signs its own JWT as well (with the scope); other credential kinds get tokens as usual.
  const adc = new GoogleAuth({ scopes: [CLOUD_PLATFORM], clientOptions: { transporterOptions } });
  adc.useJWTAccessWithScope = true;
  return adc as unknown as Requester;
}

export function connectGcp(
  config: GcpConfig,
  owner: TargetOwner,
  logger: Logger | undefined,
  now: () => number = Date.now,
): GcpTarget {
  const client = authClient(config);
  const base = (config.options.endpoints?.iam ?? IAM).replace(/\/$/, '');
  const { resourceId } = config;
  const fail = (action: string, err: unknown, signal: AbortSignal) =>
    gcpFailure(resourceId, action, err, signal);

  async function call<T>(
    action: string,
    signal: AbortSignal,
    method: 'GET' | 'POST',
    path: string,
    data?: unknown,
  ) {
    if (signal.aborted) throw cancelledError(`gcp target ${resourceId}: ${action}`, signal);
    try {
      const res = await client.request<T>({
        url: `${base}${path}`,
        method,
        ...(data !== undefined ? { data } : {}),
        signal,
        timeout: REQUEST_TIMEOUT_MS,
        retry: false,
        fetchImplementation: fetch,
      });
      return res.data;
    } catch (err) {
      throw fail(action, err, signal);
    }
  }

  return {
    config,
    owner,
    logger,
    now,
    fail,
    getPolicy: (email, signal) =>
      call<IamPolicy>(
        `read the policy of ${email}`,
        signal,
        'POST',
        `/v1/projects/-/serviceAccounts/${email}:getIamPolicy`,
        {
          options: { requestedPolicyVersion: 3 },
        },
      ),
    async setPolicy(email, policy, signal) {
      await call(
        `write the policy of ${email}`,
        signal,
        'POST',
        `/v1/projects/-/serviceAccounts/${email}:setIamPolicy`,
        {
          policy,
        },
      );
    },
    async serviceAccounts(signal, pageSize = 100) {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const q = new URLSearchParams({ pageSize: String(pageSize), ...(token ? { pageToken: token } : {}) });
        const page = await call<{ accounts?: { email?: string }[]; nextPageToken?: string }>(
          'list service accounts',
          signal,
          'GET',
          `/v1/projects/${config.options.project}/serviceAccounts?${q}`,
        );
        for (const a of page.accounts ?? []) if (a.email) out.push(a.email);
        token = page.nextPageToken;
      } while (token && pageSize > 1);
      return out;
    },
  };
}
