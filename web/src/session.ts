import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Schemas } from './api/client';

export type Session = Schemas['ConsoleSession'];

export const SessionContext = createContext<{ session: Session; logout(): Promise<void> } | undefined>(
  undefined,
);

export function useSession() {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside a logged-in console');
  return value;
}
