// The build's widest-line for ink (see ink-text-width-lean.mjs).
export { widestLine as default } from './ink-text-width-lean.mjs';
