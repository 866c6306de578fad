import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { safeEmitter, type OutboxEvents } from './events.ts';

describe('safeEmitter', () => {
  it('calls every listener, turns a throw into a fault, and returns normally', () => {
    const emitter = new EventEmitter<OutboxEvents>();
    const emit = safeEmitter(emitter);
    const seen: string[] = [];
    const faults: OutboxEvents['fault'][0][] = [];
    emitter.on('idle', () => seen.push('first'));
    emitter.on('idle', () => {
      throw new Error('listener bug');
    });
    emitter.on('idle', () => seen.push('third'));
    emitter.on('fault', (f) => faults.push(f));
    expect(() => emit('idle')).not.toThrow();
    expect(seen).toEqual(['first', 'third']);
    expect(faults).toHaveLength(1);
    expect(faults[0]?.where).toBe('listener:idle');
    expect(faults[0]?.error).toBeInstanceOf(Error);
  });

  it('passes the arguments and removes a once listener after its call', () => {
    const emitter = new EventEmitter<OutboxEvents>();
    const emit = safeEmitter(emitter);
    const got: unknown[] = [];
    emitter.once('submitted', (e) => got.push(e));
    emit('submitted', { count: 2, probe: false });
    emit('submitted', { count: 3, probe: true });
    expect(got).toEqual([{ count: 2, probe: false }]);
    expect(emitter.listenerCount('submitted')).toBe(0);
  });

  it('a fault listener that throws becomes a process warning, never an exception', async () => {
    const emitter = new EventEmitter<OutboxEvents>();
    const emit = safeEmitter(emitter);
    emitter.on('fault', () => {
      throw new Error('fault listener bug');
    });
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    expect(() => emit('fault', { where: 'pump', error: new Error('x') })).not.toThrow();
    const warning = await warned;
    expect(warning.name).toBe('OutboxListenerWarning');
    expect(warning.message).toContain('fault listener bug');
  });

  it('with no listeners, emits nothing and throws nothing', () => {
    const emit = safeEmitter(new EventEmitter<OutboxEvents>());
    expect(() => emit('link', { state: 'down', code: 'NETWORK' })).not.toThrow();
  });
});
