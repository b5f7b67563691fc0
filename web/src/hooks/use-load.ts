import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload(): Promise<void>;
}

/**
 * Loads with `load` now and, with `everyMs`, again on that cadence while the tab is visible: how a pending
 * request turns approved on screen without a reload. A poll that fails keeps the last answer and shows the error.
 */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const latest = useRef(load);
  latest.current = load;
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const value = await latest.current();
      if (mine !== generation.current) return;
      setData(value);
      setError(null);
    } catch (e) {
      if (mine !== generation.current) return;
      setError(e instanceof ApiError ? e : new ApiError(0, 'INTERNAL', String(e)));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps decide when to load afresh
  useEffect(() => {
    setLoading(true);
    void reload();
    if (!everyMs) return;
    const t = window.setInterval(() => {
      if (document.visibilityState === 'visible') void reload();
    }, everyMs);
    return () => window.clearInterval(t);
  }, [...deps, everyMs]);

  return { data, error, loading, reload };
}
