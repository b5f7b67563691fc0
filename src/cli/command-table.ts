import type { Command } from 'commander';
import type { CliContext } from './context.js';

type Register = (program: Command, ctx: CliContext) => void;

/**
 * Every top-level command, in the order `stint --help` lists them, with the module that registers it. A run loads
 * only the module its command line names (issue 27: every module the CLI imported, from openid-client to the
 * audit verifier's Kysely, used to load on every run, `stint --version` included; see docs/performance.md).
 * test/cli/command-table.test.ts checks these names against what each module really registers.
 */
export const COMMAND_TABLE: readonly { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['request'], load: async () => (await import('./commands/request.js')).registerRequest },
  { names: ['requests'], load: async () => (await import('./commands/requests.js')).registerRequests },
  { names: ['show'], load: async () => (await import('./commands/show.js')).registerShow },
  {
    names: ['approve', 'deny', 'withdraw', 'revoke'],
    load: async () => (await import('./commands/transitions.js')).registerTransitions,
  },
  {
    names: ['credentials'],
    load: async () => (await import('./commands/credentials.js')).registerCredentials,
  },
  { names: ['resources'], load: async () => (await import('./commands/resources.js')).registerResources },
  { names: ['audit'], load: async () => (await import('./commands/audit.js')).registerAudit },
  { names: ['whoami'], load: async () => (await import('./commands/whoami.js')).registerWhoami },
  { names: ['policy'], load: async () => (await import('./commands/policy.js')).registerPolicy },
  { names: ['inventory'], load: async () => (await import('./commands/inventory.js')).registerInventory },
  { names: ['conversion'], load: async () => (await import('./commands/conversion.js')).registerConversion },
  { names: ['server'], load: async () => (await import('./commands/server.js')).registerServer },
  { names: ['admin'], load: async () => (await import('./commands/admin.js')).registerAdmin },
  { names: ['login'], load: async () => (await import('./commands/login.js')).registerLogin },
  { names: ['mfa'], load: async () => (await import('./commands/mfa.js')).registerMfa },
  { names: ['ssh'], load: async () => (await import('./commands/ssh.js')).registerSsh },
  {
    names: ['ssh-host-cert'],
    load: async () => (await import('./commands/ssh-host-cert.js')).registerSshHostCert,
  },
  { names: ['breakglass'], load: async () => (await import('./commands/breakglass.js')).registerBreakglass },
  {
    names: ['notifications'],
    load: async () => (await import('./commands/notifications.js')).registerNotifications,
  },
  { names: ['report'], load: async () => (await import('./commands/report.js')).registerReport },
  { names: ['evidence'], load: async () => (await import('./commands/evidence.js')).registerEvidence },
  { names: ['recordings'], load: async () => (await import('./commands/recordings.js')).registerRecordings },
];

/** Global options that take a value as the next argument (`--url x`); `--url=x` is one argument. */
const GLOBAL_VALUE_OPTIONS = new Set(['--url', '--token']);

/**
 * The table rows a command line needs. Its first operand names one command: only that module loads. With no
 * operand, `--version` needs none. Anything else (help, no command, an unknown or misspelt one, `--`) loads
 * every row, so help lists everything and Commander can suggest the command meant.
 */
export function commandsFor(argv: readonly string[] | undefined): typeof COMMAND_TABLE {
  if (argv === undefined) return COMMAND_TABLE;
  let operand: string | undefined;
  const flags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return COMMAND_TABLE;
    if (arg.startsWith('-') && arg !== '-') {
      flags.push(arg);
      if (GLOBAL_VALUE_OPTIONS.has(arg)) i++;
      continue;
    }
    operand = arg;
    break;
  }
  if (operand === undefined) {
    // Commander acts on whichever of --version and --help comes first.
    const first = flags.find((f) => ['--version', '-V', '--help', '-h'].includes(f));
    return first === '--version' || first === '-V' ? [] : COMMAND_TABLE;
  }
  const row = COMMAND_TABLE.find((r) => r.names.includes(operand));
  return row ? [row] : COMMAND_TABLE;
}
