import { hostname, userInfo } from 'node:os';

/** Who made a credential on the server host (`stint admin session|token create`), and whether it was announced. */
export interface HostMade {
  by: string;
  host: string;
  createdAt: Date;
  /** Whether the audit event announcing it was written (the server writes it before it acts). */
  announced: boolean;
}

/** The operator on the server host as the store records it: the account, and the host's name. */
export interface HostOperator {
  by: string;
  host: string;
}

/** The account that ran the command (with sudo, the person behind it too) and this host's name. */
export function hostOperator(env: NodeJS.ProcessEnv = process.env): HostOperator {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = env.USER ?? env.LOGNAME ?? `uid ${process.getuid?.() ?? '?'}`;
  }
  const by = env.SUDO_USER && env.SUDO_USER !== name ? `${env.SUDO_USER} (as ${name})` : name;
  return { by, host: hostname() };
}
