import { create } from 'asciinema-player';
import { useEffect, useRef } from 'react';
import 'asciinema-player/dist/bundle/asciinema-player.css';

/**
 * asciinema-player over an asciicast v2 text. It sets its sizes and colours through the style object (CSSOM),
 * which the portal's `style-src 'self'` allows, and never writes a style attribute or a <style> element; its
 * terminal is WebAssembly compiled from bytes in its own script, which needs `'wasm-unsafe-eval'` (see
 * PORTAL_CSP in src/server/portal.ts).
 */
export default function CastPlayer({ cast, title }: { cast: string; title: string }) {
  const box = useRef<HTMLElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const player = create({ data: cast }, el, {
      fit: 'width',
      // Long pauses (someone reading a man page) play as 2 s: the review is of what was done, not how fast.
      idleTimeLimit: 2,
      preload: true,
      terminalFontSize: 'small',
    });
    return () => player.dispose();
  }, [cast]);
  return <section className="player" aria-label={title} ref={box} />;
}
