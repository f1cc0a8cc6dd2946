import { useEffect } from 'preact/hooks';

/** Reloads every second while `active` (a run going on): live progress without a socket. */
export function usePolling(active: boolean, reload: () => void) {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, 1000);
    return () => clearInterval(timer);
  }, [active, reload]);
}
