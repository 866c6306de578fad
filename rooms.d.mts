import type { Linter } from 'eslint';

export declare const rooms: Record<string, { imports: string[]; types?: string[] }>;
export declare function roomRules(): Linter.Config[];
