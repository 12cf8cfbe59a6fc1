#!/usr/bin/env node
// `xnat-relay` is `xnat relay`.
process.argv.splice(2, 0, 'relay');
await import('./xnat.js');
