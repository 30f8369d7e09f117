// The signed-in user, shared by every screen.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { User } from './api';

export const SessionContext = createContext<User | null>(null);
export const useUser = () => useContext(SessionContext);
