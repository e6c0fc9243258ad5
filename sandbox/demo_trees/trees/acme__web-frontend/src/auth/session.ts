export interface SessionUser {
  id: number;
  email: string;
  role: "customer" | "admin";
}

const TOKEN_KEY = "acme.session.token";
const USER_KEY = "acme.session.user";

export function storeSession(token: string, user: SessionUser): void {
  window.localStorage.setItem(TOKEN_KEY, token);
  window.localStorage.setItem(USER_KEY, JSON.stringify(user));
}

export function sessionToken(): string | null {
  return window.localStorage.getItem(TOKEN_KEY);
}

export function currentUser(): SessionUser | null {
  const raw = window.localStorage.getItem(USER_KEY);
  return raw ? (JSON.parse(raw) as SessionUser) : null;
}

export function clearSession(): void {
  window.localStorage.removeItem(TOKEN_KEY);
  window.localStorage.removeItem(USER_KEY);
}
