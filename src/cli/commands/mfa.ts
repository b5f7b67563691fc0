import type { Command } from 'commander';
import type { FactorResetView, MfaStatusView, StepUpView, TotpEnrollmentView } from '../../mfa/mfa-types.js';
import { usageError } from '../cli-error.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createHttpClient, DEFAULT_URL, type HttpClient } from '../http-client.js';

/** The MFA routes of the API, one method per route. */
export function createMfaApi(http: HttpClient) {
  return {
    status: () => http.get<MfaStatusView>('/v1/mfa'),
    enrollTotp: () => http.post<TotpEnrollmentView>('/v1/mfa/totp/enroll'),
    confirmTotp: (code: string) => http.post<MfaStatusView>('/v1/mfa/totp/confirm', { code }),
    verify: (code: string) => http.post<StepUpView>('/v1/mfa/verify', { method: 'totp', code }),
    requestReset: (user: string, reason: string) =>
      http.post<FactorResetView>('/v1/mfa/resets', { user, reason }),
    confirmReset: (id: string) =>
      http.post<FactorResetView>(`/v1/mfa/resets/${encodeURIComponent(id)}/confirm`),
  };
}

/** The same server and credential as every other command: --url/--token, else STINT_URL/STINT_TOKEN. */
function httpFrom(ctx: CliContext, cmd: Command): HttpClient {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return createHttpClient({
    baseUrl: g.url ?? ctx.io.env.STINT_URL ?? DEFAULT_URL,
    token: g.token ?? ctx.io.env.STINT_TOKEN,
    fetch: ctx.io.fetch,
  });
}

function sixDigits(code: string): string {
  const trimmed = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(trimmed))
    throw usageError(`--code: "${code}" is not a 6-digit code from your authenticator app`);
  return trimmed;
}

/**
 * `stint mfa …`: enroll a TOTP app and step up with it before approving sensitive access. WebAuthn keys need a
 * browser, so they are registered and used from the portal. `http` lets the program share its client.
 */
export function registerMfa(
  program: Command,
  ctx: CliContext,
  http: (cmd: Command) => HttpClient = (cmd) => httpFrom(ctx, cmd),
): void {
  const mfa = program
    .command('mfa')
    .description('second factors: approving sensitive or critical access needs a recent one');

  mfa
    .command('status')
    .description('show my second factors and whether a step-up is still fresh')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await createMfaApi(http(cmd)).status();
      out.result(s, () => {
        out.fields([
          ['totp', s.totp],
          ['webauthn keys', String(s.webauthnCredentials)],
          ['verified', out.when(s.verifiedAt)],
          ['counts until', out.when(s.validUntil)],
        ]);
      });
    });

  mfa
    .command('enroll')
    .description('enroll a TOTP authenticator app; then confirm it with --code')
    .argument('<method>', 'totp')
    .option('--code <code>', 'confirm the pending enrollment with the current code from the app')
    .action(async (method: string, opts: { code?: string }, cmd: Command) => {
      if (method !== 'totp') {
        throw usageError(
          `stint mfa enroll: "${method}" is not supported here; use totp (WebAuthn keys: the portal)`,
        );
      }
      const out = ctx.output(cmd);
      const api = createMfaApi(http(cmd));
      if (opts.code !== undefined) {
        const status = await api.confirmTotp(sixDigits(opts.code));
        out.result(status, () => {
          out.line(
            'TOTP confirmed: `stint mfa verify --code <code>` steps up before approving sensitive access.',
          );
        });
        return;
      }
      const enrollment = await api.enrollTotp();
      out.result(enrollment, () => {
        out.line(enrollment.otpauthUrl);
        out.line();
        out.fields([['secret', enrollment.secret]]);
        out.note(
          'note: add this to your authenticator app (the URL works as a QR code); it is shown once. ' +
            'Then confirm with `stint mfa enroll totp --code <code>`.',
        );
      });
    });

  mfa
    .command('reset')
    .description("admin: ask to reset a user's second factors (a lost authenticator); security confirms")
    .argument('<user>', 'whose factors')
    .requiredOption('--reason <text>', 'why (a ticket): kept in the audit trail')
    .action(async (user: string, opts: { reason: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const reset = await createMfaApi(http(cmd)).requestReset(user, opts.reason);
      out.result(reset, () => {
        out.fields([
          ['reset', reset.id],
          ['user', reset.user],
          ['open until', out.when(reset.expiresAt)],
        ]);
        out.note(`note: someone from security (not you) confirms: \`stint mfa reset-confirm ${reset.id}\``);
      });
    });

  mfa
    .command('reset-confirm')
    .description("security: confirm a factor reset another person asked for; the user's factors are removed")
    .argument('<id>', 'the reset id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const reset = await createMfaApi(http(cmd)).confirmReset(id);
      out.result(reset, () => {
        out.line(
          `reset: ${reset.user}'s second factors are removed; they enrol a new one after signing in afresh`,
        );
      });
    });

  mfa
    .command('verify')
    .description('step up: verify a code from your authenticator app')
    .requiredOption('--code <code>', 'the current 6-digit code')
    .action(async (opts: { code: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const view = await createMfaApi(http(cmd)).verify(sixDigits(opts.code));
      out.result(view, () => {
        out.line(
          `verified: approvals needing a second factor are allowed until ${out.when(view.validUntil)}`,
        );
      });
    });
}
