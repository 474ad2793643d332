// The typed values of an unsigned form survive a page reload and a new login (sessionStorage, this tab
// only): values, never credentials. Cleared once the step is signed.
import { useState } from 'react';

export function useDraft(key: string, initial: Record<string, string>): [Record<string, string>, (v: Record<string, string> | null) => void] {
  const storageKey = `cellbatch.draft.${key}`;
  const [values, setValues] = useState<Record<string, string>>(() => {
    try {
      const saved = sessionStorage.getItem(storageKey);
      return saved ? { ...initial, ...JSON.parse(saved) } : initial;
    } catch {
      return initial;
    }
  });
  const set = (v: Record<string, string> | null) => {
    if (v === null) {
      sessionStorage.removeItem(storageKey);
      setValues(initial);
    } else {
      sessionStorage.setItem(storageKey, JSON.stringify(v));
      setValues(v);
    }
  };
  return [values, set];
}
