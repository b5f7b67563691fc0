import { useEffect, useState } from 'react';

export const PAGE_SIZE = 10;

/** One page of `items` and the controls to move between pages; resets when the list shrinks under it. */
export function usePage<T>(items: readonly T[], size = PAGE_SIZE) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(items.length / size));
  useEffect(() => {
    if (page >= pages) setPage(pages - 1);
  }, [page, pages]);
  const current = Math.min(page, pages - 1);
  return { rows: items.slice(current * size, current * size + size), page: current, pages, setPage };
}

export function Pager(props: {
  page: number;
  pages: number;
  setPage(p: number): void;
  label: string;
  /** For cursor paging where the total is unknown: whether a next page exists. */
  hasNext?: boolean;
}) {
  const { page, pages, setPage, label } = props;
  const hasNext = props.hasNext ?? page < pages - 1;
  if (pages <= 1 && !props.hasNext && page === 0) return null;
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" onClick={() => setPage(page - 1)} disabled={page === 0}>
        Previous
      </button>
      <span aria-live="polite">
        Page {page + 1}
        {props.hasNext === undefined ? ` of ${pages}` : ''}
      </span>
      <button type="button" onClick={() => setPage(page + 1)} disabled={!hasNext}>
        Next
      </button>
    </nav>
  );
}
