export function webSourcesHash(): string;
export function buildWebUi(options?: { force?: boolean }): Promise<boolean>;
