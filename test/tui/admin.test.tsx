// The dashboard against a real admin endpoint on 127.0.0.1 (port 0): snapshots, kick, loss and
// reconnect through src/cli/dashboard.ts's adapter; and runDashboard's refusals.
import test from 'ava';
import { render } from 'ink-testing-library';
import { startAdminServer, type AdminServer } from '../../src/admin/admin-server.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { App } from '../../src/tui/app.tsx';
import { DashboardController } from '../../src/tui/controller.ts';
import { runDashboard } from '../../src/tui/run-dashboard.tsx';
import { adminSource } from '../../src/cli/dashboard.ts';
import { XnatError, isXnatError } from '../../src/errors.ts';
import type { Status } from '../../src/observe/status.ts';
import { relayStatus, session, waitFor } from './fixtures.ts';

const TOKEN = '0123456789abcdef';

async function relayAdmin(current: () => Status, kicks: string[], port = 0): Promise<AdminServer> {
  return startAdminServer({
    listen: { host: '127.0.0.1', port },
    token: TOKEN,
    logger: silentLogger(),
    actions: {
      status: current,
      kick: (name) => {
        kicks.push(name);
        return true;
      },
    },
  });
}

test('live snapshots from a real admin endpoint, kick through it, banner on loss, back after restart', async (t) => {
  let snap: Status = relayStatus();
  const kicks: string[] = [];
  let server = await relayAdmin(() => snap, kicks);
  const port = server.port;
  const controller = new DashboardController({
    connect: adminSource({ host: '127.0.0.1', port, token: TOKEN }),
    intervalMs: 100,
  });
  const ui = render(<App controller={controller} />);
  const frame = () => ui.lastFrame() ?? '';
  try {
    t.regex(await waitFor(frame, (f) => f.includes('alpha')), /Sessions \(2\)/);
    snap = relayStatus({ sessions: [session({ agent: 'gamma', id: '77' })] });
    t.regex(await waitFor(frame, (f) => f.includes('gamma')), /gamma\s+attached/);

    ui.stdin.write('K');
    await waitFor(frame, (f) => f.includes('Kick agent gamma?'));
    ui.stdin.write('y');
    t.regex(await waitFor(frame, (f) => f.includes('kicked gamma')), /kicked gamma/);
    t.deepEqual(kicks, ['gamma']);

    await server.close();
    t.regex(await waitFor(frame, (f) => f.includes('admin connection lost')), /retrying every 2 s/);

    // The same port again (a restarted relay); the dashboard's 2 s retry finds it.
    server = await relayAdmin(() => snap, kicks, port);
    const back = await waitFor(frame, (f) => !f.includes('admin connection lost'), 10_000);
    t.false(back.includes('admin connection lost'));
    t.regex(back, /gamma/);
  } finally {
    ui.unmount();
    controller.close();
    await server.close();
  }
});

test('runDashboard refuses a stdin that is not a terminal', async (t) => {
  const stdin = { isTTY: false } as unknown as NodeJS.ReadStream;
  const err = await t.throwsAsync(
    runDashboard({ connect: () => Promise.reject(new Error('not called')), stdin }),
  );
  t.true(isXnatError(err, 'XNAT_ERR_TUI_NO_TTY'));
});

test('runDashboard rejects a non-retryable first connection failure (a wrong token) before drawing', async (t) => {
  const server = await relayAdmin(() => relayStatus(), []);
  const stdin = { isTTY: true } as unknown as NodeJS.ReadStream;
  try {
    const err = await t.throwsAsync(
      runDashboard({
        connect: adminSource({ host: '127.0.0.1', port: server.port, token: 'wrong-token-123' }),
        stdin,
      }),
    );
    t.true(isXnatError(err, 'XNAT_ERR_COMMAND_DENIED'), String(err));
    t.false(err instanceof XnatError && err.message.includes('wrong-token-123'));
  } finally {
    await server.close();
  }
});
