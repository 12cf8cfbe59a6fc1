// The build's measure-text.js for ink (see ink-text-width-lean.mjs).
export { measureText as default } from './ink-text-width-lean.mjs';
