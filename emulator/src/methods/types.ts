import type { AuthContext } from '../auth.ts';
import type { Params } from '../http/params.ts';
import type { Portal } from '../portal/portal.ts';

export interface CallContext {
  portal: Portal;
  auth: AuthContext;
  now: number;
  inBatch: boolean;
}

export interface MethodResult {
  result: unknown;
  total?: number;
  next?: number;
}

export interface MethodDef {
  /** Required scope; null for basic methods every app and webhook has. */
  scope: string | null;
  /**
   * "telephony": app context only, webhooks refused unless the portal allows them (spec §2.0);
   * "app": app context only, always (event.*, app.info).
   */
  context?: 'telephony' | 'app';
  /** "never": not allowed inside batch; "upload": refused inside batch when it carries a file. */
  batch?: 'never' | 'upload';
  run(ctx: CallContext, params: Params): MethodResult | Promise<MethodResult>;
}

export const ok = (result: unknown): MethodResult => ({ result });
