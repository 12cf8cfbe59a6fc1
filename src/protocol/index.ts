// The public face of src/protocol/: the command catalogue, typed call/register helpers, STREAM_OPEN meta.
export * from './catalogue.ts';
export * from './client.ts';
export * from './open-meta.ts';
