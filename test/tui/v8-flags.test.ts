// The V8 flags `xnat dashboard` sets at run time exist in this Node's V8: of a name it does not know V8
// prints "unrecognized flag" on stderr and goes on without it (docs/dashboard.md, "Memory").
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SMALL_FOOTPRINT_FLAGS } from '../../src/tui/v8-flags.ts';

const run = promisify(execFile);

test('every flag of SMALL_FOOTPRINT_FLAGS is one this V8 knows', async (t) => {
  const { stdout } = await run(process.execPath, ['--v8-options'], { maxBuffer: 16 * 1024 * 1024 });
  t.true(SMALL_FOOTPRINT_FLAGS.length > 0);
  for (const flag of SMALL_FOOTPRINT_FLAGS) {
    const name = flag.replace(/=.*$/, '');
    t.true(stdout.includes(`  ${name} (`), `${name} is not among node --v8-options`);
  }
});
