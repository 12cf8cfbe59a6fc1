// Types of scripts/ansi-tokenize-lean.mjs: the package's own, since it keeps its functions' contracts.
export * from '@alcalzone/ansi-tokenize';
