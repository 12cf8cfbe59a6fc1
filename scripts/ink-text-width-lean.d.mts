// Types of scripts/ink-text-width-lean.mjs.
export declare function widestLine(text: string): number;
export declare function measureText(text: string): { width: number; height: number };
