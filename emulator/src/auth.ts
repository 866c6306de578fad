import { errors } from './errors.ts';
import type { App, User, Webhook } from './portal/model.ts';
import type { Portal } from './portal/portal.ts';

/** Who is calling: an installed application's OAuth token, or an incoming webhook. */
export type AuthContext =
  | { kind: 'oauth'; app: App; user: User; scopes: string[]; token: string }
  | { kind: 'webhook'; webhook: Webhook; user: User; scopes: string[] | null };

/** Owner of lines and calls: the app, or 0 for calls made through a webhook (when allowed). */
export const appIdOf = (auth: AuthContext): number => (auth.kind === 'oauth' ? auth.app.id : 0);

export function authenticateToken(portal: Portal, token: string | undefined): AuthContext {
  if (!token) throw errors.noAuth();
  const t = portal.accessTokens.get(token);
  if (!t || t.revoked) throw errors.noAuth();
  const app = portal.apps.get(t.appId);
  const user = portal.users.get(t.userId);
  if (!app || !user?.active) throw errors.noAuth();
  if (portal.clock.now() >= portal.tokenExpiry(t)) throw errors.expiredToken();
  return { kind: 'oauth', app, user, scopes: app.scopes, token };
}

export function authenticateWebhook(portal: Portal, userId: string, secret: string): AuthContext {
  const webhook = portal.webhooks.find((w) => String(w.userId) === userId && w.secret === secret);
  const user = webhook ? portal.users.get(webhook.userId) : undefined;
  if (!webhook || !user?.active) throw errors.noAuth();
  return { kind: 'webhook', webhook, user, scopes: webhook.scopes };
}

/** `user` methods accept any of the three user scopes (spec §6.4). */
const scopeAliases: Record<string, string[]> = {
  user: ['user', 'user_basic', 'user_brief'],
};

export function hasScope(auth: AuthContext, scope: string | null): boolean {
  if (scope === null || auth.scopes === null) return true;
  const accepted = scopeAliases[scope] ?? [scope];
  return accepted.some((s) => auth.scopes?.includes(s));
}
