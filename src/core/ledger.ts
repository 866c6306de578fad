/**
 * What Bitrix24 believes, replayed from the engine's effects: whose card is up for which call,
 * and which calls are finished. Tests use it to check the card rules; an admin view can use it
 * to show the cards the portal is displaying. Misuses of the REST API are collected as violations
 * (a show or hide after the finish would be answered `false`, a second finish with an error).
 */
import type { BitrixEffect, Effect } from './effects.ts';

interface CallCards {
  registered: boolean;
  holders: Set<number>;
  finishes: number;
}

export class CardLedger {
  readonly violations: string[] = [];
  private readonly calls = new Map<string, CallCards>();

  /** Click-to-call: the portal registered the call and showed its card before the engine heard of it. */
  portalRegistered(callKey: string, userId: number): void {
    this.calls.set(callKey, { registered: true, holders: new Set([userId]), finishes: 0 });
  }

  apply(effects: readonly Effect[]): void {
    for (const effect of effects) this.applyOne(effect);
  }

  holders(callKey: string): number[] {
    return [...(this.calls.get(callKey)?.holders ?? [])];
  }

  finishes(callKey: string): number {
    return this.calls.get(callKey)?.finishes ?? 0;
  }

  registered(callKey: string): boolean {
    return this.calls.get(callKey)?.registered ?? false;
  }

  callKeys(): string[] {
    return [...this.calls.keys()];
  }

  /** Cards up anywhere: `[callKey, userId]`. */
  cardsUp(): [string, number][] {
    return [...this.calls].flatMap(([key, c]) => [...c.holders].map((u): [string, number] => [key, u]));
  }

  private applyOne(effect: Effect): void {
    if (!isBitrix(effect)) return;
    const key = effect.callKey;
    let call = this.calls.get(key);
    if (call === undefined) {
      call = { registered: false, holders: new Set(), finishes: 0 };
      this.calls.set(key, call);
    }
    const problem = (what: string) => this.violations.push(`${key}: ${what}`);
    if (effect.type === 'bitrix.register') {
      if (call.registered) problem('registered twice');
      call.registered = true;
      if (effect.show) call.holders.add(effect.userId);
      return;
    }
    if (!call.registered && effect.bitrixCallId === undefined) problem(`${effect.type} before register`);
    switch (effect.type) {
      case 'bitrix.show':
      case 'bitrix.hide': {
        if (call.finishes > 0) problem(`${effect.type} after finish`);
        const show = effect.type === 'bitrix.show';
        for (const user of effect.userIds) {
          if (call.holders.has(user) === show)
            problem(`${effect.type} for ${user}, who ${show ? 'has' : 'lacks'} it`);
          if (show) call.holders.add(user);
          else call.holders.delete(user);
        }
        return;
      }
      case 'bitrix.finish':
        call.finishes += 1;
        if (call.finishes > 1) problem('finished twice');
        call.holders.delete(effect.userId);
        if (call.holders.size > 0) problem(`finished with cards up for ${[...call.holders].join(',')}`);
        return;
      case 'bitrix.attachRecord':
        if (call.finishes === 0) problem('attachRecord before finish');
        return;
      case 'bitrix.findResponsible':
        return;
    }
  }
}

function isBitrix(effect: Effect): effect is BitrixEffect {
  return effect.type.startsWith('bitrix.');
}
