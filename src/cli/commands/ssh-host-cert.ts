import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CaKeyError, parseCaKey } from '../../providers/ssh/ca-key.js';
import { signHostCertificate } from '../../providers/ssh/host-certificate.js';
import { PublicKeyError } from '../../providers/ssh/public-key.js';
import { CliError, usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';

const DAY_MS = 86_400_000;

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(
      'FILE_UNREADABLE',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/**
 * `stint ssh-host-cert`: the admin path for host certificates, run where the host CA key is (never the server).
 * Writes `<key>-cert.pub` beside the host's public key, as `ssh-keygen -s -h` would, for sshd's HostCertificate.
 */
export function registerSshHostCert(program: Command, ctx: CliContext): void {
  program
    .command('ssh-host-cert')
    .description('sign an SSH host key with the host CA, so users trust the host by @cert-authority')
    .argument('<host-public-key>', 'the host key’s public half, e.g. /etc/ssh/ssh_host_ed25519_key.pub')
    .requiredOption('--ca <file>', 'the host CA’s private key (Ed25519, unencrypted)')
    .requiredOption('--hostname <names>', 'comma-separated names users reach the host by')
    .option('--days <n>', 'validity in days', '90')
    .action((hostKey: string, opts: { ca: string; hostname: string; days: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const days = Number(opts.days);
      if (!Number.isInteger(days) || days < 1 || days > 3_650) throw usageError('--days must be 1 to 3650');
      const hostnames = opts.hostname.split(',').map((h) => h.trim());
      if (hostnames.some((h) => !/^[A-Za-z0-9.*?_:-]+$/.test(h)))
        throw usageError('--hostname must list host names');
      let certificate: string;
      try {
        certificate = signHostCertificate(parseCaKey(readFile(opts.ca)), {
          hostPublicKey: readFile(hostKey),
          hostnames,
          validFor: days * DAY_MS,
          now: ctx.now(),
        });
      } catch (e) {
        // Both name the rule broken, never a byte of either key.
        if (e instanceof CaKeyError || e instanceof PublicKeyError) throw usageError(e.message);
        throw e;
      }
      const path = `${hostKey.replace(/\.pub$/, '')}-cert.pub`;
      writeFileSync(path, `${certificate}\n`, { mode: 0o644 });
      out.result({ certificate: path, hostnames, days }, () => {
        out.line(path);
        out.note(
          `note: add "HostCertificate ${path}" to sshd_config and reload sshd; users trust it through the resource's hostCaPublicKey.`,
        );
      });
    });
}
