// The README's first command: `xnat demo` starts relay, agent and demo service, prints an address, and a
// visitor (curl, as a newcomer would) reaches the demo service through the tunnel.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startProcess, killAll, waitFor } from '../helpers/procs.ts';

const run = promisify(execFile);
test.after.always(() => killAll());

test('xnat demo prints an address that reaches the demo service through relay and agent', async (t) => {
  t.timeout(60_000);
  const demo = startProcess(['demo', '--no-dashboard', '--log-level', 'info'], { name: 'demo' });
  await demo.waitForLog({ msg: 'mapping ready', role: 'agent' }, 30_000);
  let url = '';
  await waitFor(
    () => {
      const line = demo.otherLines.find((l) => l.includes('curl http://'));
      url = /curl (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line ?? '')?.[1] ?? '';
      return url !== '';
    },
    10_000,
    'the demo banner',
  );
  const { stdout } = await run('curl', ['-sS', '--max-time', '10', url]);
  t.regex(stdout, /hello from the LAN service behind xnat/);
  demo.kill('SIGINT');
  const exit = await demo.exited;
  t.is(exit.code, 0);
});
