import type {
  ConfigurationOptions,
  CoreV1Api,
  ObservableMiddleware,
  RbacAuthorizationV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import type { StintError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import { cancelledError, type TargetOwner } from '../provider.js';
import type { KubernetesConfig } from './kube-config.js';
import { providerError } from './kube-errors.js';

/** The official client's APIs, authenticated as Stint. */
export interface KubeApis {
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  version: VersionApi;
  /** Per-call options that make the client's fetch honour `signal`. */
  call(signal: AbortSignal): ConfigurationOptions;
}

/** Everything a step needs to reach the API server and who Stint is there. */
export interface KubeAdmin {
  config: KubernetesConfig;
  owner: TargetOwner;
  logger: Logger | undefined;
  /** The client, loaded on the first call: importing it takes a second, which no boot should pay unused. */
  apis(): Promise<KubeApis>;
  fail(action: string, err: unknown, signal: AbortSignal, extraSecrets?: readonly string[]): StintError;
}

async function load(config: KubernetesConfig): Promise<KubeApis> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  const source = config.source;
  if (source.kind === 'kubeconfig') {
    kc.loadFromString(source.text);
    if (source.baseDir !== null) kc.makePathsAbsolute(source.baseDir);
    kc.setCurrentContext(source.context);
  } else {
    kc.loadFromOptions({
      clusters: [{ name: 'in-cluster', server: source.server, caFile: source.caFile, skipTLSVerify: false }],
      // The kubelet rotates the projected token: client-node's tokenFile provider reads it again as it changes.
      users: [
        { name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: source.tokenFile } } },
      ],
      contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster' }],
      currentContext: 'in-cluster',
    });
  }
  const resolved = <T>(value: T) => new k8s.Observable(Promise.resolve(value));
  return {
    core: kc.makeApiClient(k8s.CoreV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    version: kc.makeApiClient(k8s.VersionApi),
    call(signal) {
      const middleware: ObservableMiddleware = {
        pre: (context) => {
          context.setSignal(signal);
          return resolved(context);
        },
        post: (context) => resolved(context),
      };
      return { middleware: [middleware], middlewareMergeStrategy: 'append' };
    },
  };
}

export function connectKube(config: KubernetesConfig, owner: TargetOwner, logger?: Logger): KubeAdmin {
  let loading: Promise<KubeApis> | undefined;
  return {
    config,
    owner,
    logger,
    apis() {
      loading ??= load(config).catch((err: unknown) => {
        loading = undefined;
        throw err;
      });
      return loading;
    },
    fail(action, err, signal, extraSecrets = []) {
      if (signal.aborted) return cancelledError(`kubernetes target ${config.resourceId}: ${action}`, signal);
      return providerError(config.resourceId, action, err, extraSecrets);
    },
  };
}
