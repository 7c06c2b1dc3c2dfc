"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { asProblem, type ApiProblem } from "@/api/problem";

/**
 * Data a page reads: loaded when `key` is set and whenever it changes, again by `reload()`
 * (after a command, so at its position) and, with `everyMs`, polled so that others' changes
 * appear without a reload.
 */
export function useLoaded<T>(
  key: string | null,
  load: () => Promise<T>,
  everyMs?: number,
): { data: T | null; problem: ApiProblem | null; reload: () => Promise<void> } {
  const [data, setData] = useState<T | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const latest = useRef(load);
  useEffect(() => {
    latest.current = load;
  });
  const reload = useCallback(async () => {
    try {
      setData(await latest.current());
      setProblem(null);
    } catch (error) {
      setProblem(asProblem(error));
    }
  }, []);
  useEffect(() => {
    if (key === null) return;
    void reload();
    if (!everyMs) return;
    const timer = window.setInterval(() => void reload(), everyMs);
    return () => window.clearInterval(timer);
  }, [key, everyMs, reload]);
  return { data, problem, reload };
}
