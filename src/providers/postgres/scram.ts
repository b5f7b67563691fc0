import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/** PostgreSQL's own default (`scram_iterations`, PG16+; fixed at 4096 before). */
const ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, the format `\password` sends).
 * Sending the verifier instead of the password means the plaintext never reaches the server: not its statement
 * log, not pg_stat_activity, not an error message.
 *
 * SASLprep is skipped, so only printable ASCII is accepted (for which SASLprep is the identity).
 */
export async function scramSha256Verifier(password: string): Promise<string> {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error('scram verifier: password must be printable ASCII');
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(password, salt, ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
