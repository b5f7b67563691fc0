import type { TestProject } from 'vitest/node';
import { type PgClusterInfo, startPgCluster } from './pg-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The one scram-sha-256 cluster of this run (database `app`, roles app_admin/app_read, stint_admin). */
    pgCluster: PgClusterInfo;
  }
}

/** Starts one throwaway PostgreSQL cluster for the whole run; tests reach it with `inject('pgCluster')`. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startPgCluster();
  const { host, port, superuserUrl, stintAdminUrl } = cluster;
  project.provide('pgCluster', { host, port, superuserUrl, stintAdminUrl });
  return () => cluster.stop();
}
