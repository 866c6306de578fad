import { describe, expect, it } from 'vitest';
import { dataLines } from './stream.ts';

describe('event-stream data', () => {
  it('cannot end a line early or carry control characters: every break becomes a data line', () => {
    expect(dataLines('a\rb\r\nc\nd')).toBe('data: a\ndata: b\ndata: c\ndata: d');
    expect(dataLines('x\u0000y\u001bz\u007f')).toBe('data: xyz');
    expect(
      dataLines('+7916\revent: hijacked')
        .split('\n')
        .every((l) => l.startsWith('data: ')),
    ).toBe(true);
  });
});
