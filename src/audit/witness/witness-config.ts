import { type CosignatureVerifier, parseWitnessVkey } from './cosignature.js';

export interface WitnessConfig {
  /** The witness's name (its vkey's name) and cosignature/v1 key. */
  readonly verifier: CosignatureVerifier;
  /** The submission prefix: checkpoints go to `<url>/add-checkpoint`. */
  readonly url: string;
}

/**
 * STINT_AUDIT_WITNESSES: entries separated by newlines or ';', each `<witness vkey> <submission URL>`. The
 * vkey carries the witness's name; the URL is where its C2SP tlog-witness API lives.
 */
export function parseWitnesses(text: string | undefined): WitnessConfig[] {
  if (!text || text.trim() === '') return [];
  const out: WitnessConfig[] = [];
  for (const entry of text.split(/[;\n]/).map((e) => e.trim())) {
    if (entry === '' || entry.startsWith('#')) continue;
    const [vkey, url, extra] = entry.split(/\s+/);
    if (!vkey || !url || extra !== undefined) {
      throw new Error(`STINT_AUDIT_WITNESSES: "${entry}" is not "<witness vkey> <URL>"`);
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`STINT_AUDIT_WITNESSES: ${url} is not a URL`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new Error(`STINT_AUDIT_WITNESSES: ${url} is not an http(s) URL`);
    }
    const verifier = parseWitnessVkey(vkey);
    if (out.some((w) => w.verifier.name === verifier.name)) {
      throw new Error(`STINT_AUDIT_WITNESSES: witness ${verifier.name} is listed twice`);
    }
    out.push({ verifier, url: url.replace(/\/+$/, '') });
  }
  return out;
}
