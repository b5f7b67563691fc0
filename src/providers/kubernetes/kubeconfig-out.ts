import { stringify } from 'yaml';

export interface UserKubeconfig {
  server: string;
  caData: string | null;
  tlsServerName: string | null;
  principal: string;
  token: string;
  /** The first namespace a grant names, as kubectl's default; none for cluster-wide grants only. */
  namespace: string | null;
}

/** The kubeconfig handed to the user: the cluster as Stint reaches it (or `options.server`), the minted token. */
export function userKubeconfig(k: UserKubeconfig): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'stint',
        cluster: {
          server: k.server,
          ...(k.caData ? { 'certificate-authority-data': k.caData } : {}),
          ...(k.tlsServerName ? { 'tls-server-name': k.tlsServerName } : {}),
        },
      },
    ],
    users: [{ name: k.principal, user: { token: k.token } }],
    contexts: [
      {
        name: k.principal,
        context: { cluster: 'stint', user: k.principal, ...(k.namespace ? { namespace: k.namespace } : {}) },
      },
    ],
    'current-context': k.principal,
  });
}
