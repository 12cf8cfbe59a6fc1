// docker/systemd/*.service: `systemd-analyze verify` accepts both units without a warning, and each carries
// the hardening the docs promise (DynamicUser, ProtectSystem=strict, NoNewPrivileges, LoadCredential for
// the key, SIGHUP reload, restart on failure; CAP_NET_BIND_SERVICE on the relay only).
import ava from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/procs.ts';
import { hasProgram } from '../e2e/lib/env.ts';

const ANALYZE = '/usr/bin/systemd-analyze';
const present = hasProgram(ANALYZE);
if (!present && !process.env.CI) console.warn(`systemd test skipped: ${ANALYZE} is not installed`);
const test = present || process.env.CI ? ava : ava.skip;
const UNITS = ['xnat-relay.service', 'xnat-agent.service'];

/** The unit's `Key=value` lines, in order (comments and blank lines left out). */
function directives(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}

test('systemd-analyze verify accepts both units with no warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xnat-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const unit of UNITS) {
    // verify checks that ExecStart's program exists: point it at the node running this test.
    const text = readFileSync(join(REPO_ROOT, 'docker', 'systemd', unit), 'utf8');
    writeFileSync(
      join(dir, unit),
      text.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${realpathSync(process.execPath)} `),
    );
  }
  const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
    execFile(ANALYZE, ['verify', ...UNITS.map((u) => join(dir, u))], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
  t.is(result.code, 0, result.output);
  t.is(result.output.trim(), '', 'verify printed warnings');
});

for (const unit of UNITS) {
  test(`${unit} is hardened and reloads with SIGHUP`, (t) => {
    const d = directives(readFileSync(join(REPO_ROOT, 'docker', 'systemd', unit), 'utf8'));
    const get = (k: string) => d.filter(([key]) => key === k).map(([, v]) => v);
    t.deepEqual(get('DynamicUser'), ['yes']);
    t.deepEqual(get('ProtectSystem'), ['strict']);
    t.deepEqual(get('NoNewPrivileges'), ['yes']);
    t.deepEqual(get('Restart'), ['on-failure']);
    t.deepEqual(get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    const role = unit.includes('relay') ? 'relay' : 'agent';
    t.deepEqual(get('LoadCredential'), [`${role}.key:/etc/xnat/${role}.key`]);
    t.regex(get('ExecStart')[0] ?? '', new RegExp(` ${role} --profile /etc/xnat/${role}\\.yaml$`));
    t.deepEqual(get('AmbientCapabilities'), role === 'relay' ? ['CAP_NET_BIND_SERVICE'] : []);
    t.deepEqual(get('CapabilityBoundingSet'), [role === 'relay' ? 'CAP_NET_BIND_SERVICE' : '']);
  });
}
