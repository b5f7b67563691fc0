import { authorize } from '../auth/authorize.js';
import type { Clock } from '../domain/clock.js';
import type { StintModule } from '../module.js';
import type { StintDatabase } from '../store/database.js';
import { readReportInput } from './report-data.js';
import { computeReport } from './report-figures.js';
import { REPORT_ROUTE_ACCESS, reportRoutes } from './report-routes.js';
import type { ReportService } from './report-types.js';

/** The access report: how elevation was asked for and given over a period (`stint report`, `GET /v1/report`). */
export function createReportModule(deps: { store: StintDatabase; clock: Clock }) {
  const service: ReportService = {
    async report(actor, period) {
      authorize(actor, 'report.read');
      const input = await readReportInput(deps.store.db, period);
      return computeReport({ ...input, period, now: deps.clock() });
    },
  };
  const module: StintModule = {
    name: 'report',
    routes: [{ plugin: reportRoutes(service), access: REPORT_ROUTE_ACCESS }],
  };
  return { service, module };
}

export type ReportModule = ReturnType<typeof createReportModule>;
