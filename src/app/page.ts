/** What the application's page inside Bitrix24's frame shows and lets an administrator do. */
export interface AppOpenRequest {
  memberId: string;
  /** The viewing user's access token: a secret, never logged. */
  authId: string;
}

export interface AppPageView {
  portal: { memberId: string; domain: string | null };
  /** The portal's origin (`https://portal.bitrix24.com`): the one page that may frame this page. */
  portalOrigin: string | null;
  /** Whether the viewing user is one of the portal's administrators (only they run test actions). */
  viewer: { admin: boolean };
  link: string;
  backlog: { pending: number; inFlight: number; failed: number; oldestOpenAt: number | null };
  tokens: { expiresAt: number | null; needsReinstall: string | null; eventsVerified: boolean };
  directory: {
    refreshedAt: number | null;
    error: string | null;
    users: { userId: number; name: string; extension: string | null }[];
  };
  publicUrl: string | null;
  eventTest: { sentAt: number; receivedAt: number | null } | null;
  pbx: string[];
}

export interface AppPageHandler {
  /** Checks the token with the portal; the session names the portal for the page's actions. */
  open(request: AppOpenRequest): Promise<{ session: string }>;
  view(session: string): Promise<AppPageView>;
  /** Runs a test action; refused (403) unless the session is an administrator's. */
  action(session: string, name: string): Promise<{ message: string }>;
}

export const appActions = ['incoming-call', 'transfer', 'drop', 'refresh-directory', 'event-test'] as const;
