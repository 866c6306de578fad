import type { OriginateEffect, TransferEffect } from '../core/index.ts';
import type { PbxCommand } from './types.ts';

/** The engine's `pbx.transfer` / `pbx.originate` effect as the command a PBX receives. */
export function commandOf(effect: TransferEffect | OriginateEffect): PbxCommand {
  const { commandId, callId, extension } = effect;
  return effect.type === 'pbx.originate'
    ? { commandId, type: 'originate', callId, extension, number: effect.number }
    : { commandId, type: 'transfer', callId, extension };
}
