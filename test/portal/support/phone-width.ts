import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** WCAG 2.2 1.4.10 (Reflow): content reads at 320 CSS px without scrolling in two directions. */
export const PHONE = { width: 320, height: 640 } as const;

/**
 * Fails when the page scrolls sideways, naming the outermost elements that reach past the screen's edge or whose
 * own text runs out of them; tables are exempt, as they scroll inside their own `.table-wrap`.
 */
export async function expectFitsPhone(page: Page, label: string): Promise<void> {
  const { overflow, past } = await page.evaluate(() => {
    type El = {
      tagName: string;
      className: string;
      scrollWidth: number;
      clientWidth: number;
      textContent: string | null;
      closest(s: string): El | null;
      getBoundingClientRect(): { right: number };
    };
    const g = globalThis as unknown as {
      innerWidth: number;
      getComputedStyle(el: El): { position: string };
      document: { documentElement: { scrollWidth: number }; querySelectorAll(s: string): El[] };
    };
    const past = [...g.document.querySelectorAll('body *')]
      // A table scrolls inside its wrapper, but an absolutely placed element in it only does while the wrapper is
      // its containing block.
      .filter((el) => !el.closest('.table-wrap') || g.getComputedStyle(el).position === 'absolute')
      .filter((el) => el.getBoundingClientRect().right > g.innerWidth || el.scrollWidth > el.clientWidth + 1)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} "${(el.textContent ?? '').slice(0, 40)}"`);
    return { overflow: g.document.documentElement.scrollWidth - g.innerWidth, past };
  });
  expect(overflow, `${label} scrolls sideways at ${PHONE.width} px (${past.join(', ')})`).toBeLessThanOrEqual(
    0,
  );
}
