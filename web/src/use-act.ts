import { useState } from 'preact/hooks';

/** Runs a change; its failure is kept to be shown in words, its success clears the last failure. */
export function useAct(after: () => void) {
  const [failure, setFailure] = useState<unknown>(undefined);
  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      setFailure(undefined);
      after();
    } catch (caught) {
      setFailure(caught);
    }
  };
  return { failure, setFailure, act };
}
