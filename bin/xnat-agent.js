#!/usr/bin/env node
// `xnat-agent` is `xnat agent`.
process.argv.splice(2, 0, 'agent');
await import('./xnat.js');
