import type ssh2 from 'ssh2';

/**
 * What both legs of the proxy offer: AES-GCM (OpenSSL, AES-NI) before anything else, and chacha20-poly1305 not at
 * all. OpenSSH picks chacha20-poly1305 first when offered, ssh2 offers it first too (without cpu-features, which
 * is not built here, it cannot tell AES-NI is there), and ssh2 computes its Poly1305 in WebAssembly, which the
 * proxy's profile of a bulk transfer showed among its largest costs. CTR modes stay for peers without GCM.
 */
export const PROXY_CIPHERS: ssh2.CipherAlgorithm[] = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
];
