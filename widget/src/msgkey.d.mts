export function msgKey(s: string, salt: number): string;
export function shortKeys(table: Record<string, string>): Record<string, string | number>;
