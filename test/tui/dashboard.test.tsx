// The dashboard screen with ink-testing-library and a fake source: selection, kick, pause, banner, quit.
import test from 'ava';
import { render } from 'ink-testing-library';
import { App } from '../../src/tui/app.tsx';
import { DashboardController, RETRY_MS } from '../../src/tui/controller.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { XnatError } from '../../src/errors.ts';
import type { Status } from '../../src/observe/status.ts';
import { FakeSource, T0, relayStatus, session, waitFor } from './fixtures.ts';

const DOWN = '\u001b[B';
const UP = '\u001b[A';
const TAB = '\t';

function setup(first: Status, opts: { withOnClose?: boolean } = {}) {
  const clock = new FakeClock();
  const sources: FakeSource[] = [];
  let refuse = false;
  let attempts = 0;
  const controller = new DashboardController({
    clock,
    intervalMs: 1000,
    connect: () => {
      attempts++;
      if (refuse) return Promise.reject(new XnatError('XNAT_ERR_ADMIN_CONNECT', { detail: 'test' }));
      const s = new FakeSource(sources.at(-1)?.current ?? first, opts.withOnClose ?? true);
      sources.push(s);
      return Promise.resolve(s);
    },
  });
  const ui = render(<App controller={controller} wallNow={() => T0 + 3_723_000} />);
  const frame = () => ui.lastFrame() ?? '';
  const until = (ok: (f: string) => boolean) => waitFor(frame, ok);
  return {
    clock,
    controller,
    ui,
    frame,
    until,
    sources,
    get attempts() {
      return attempts;
    },
    refuse(v: boolean) {
      refuse = v;
    },
    source: () => sources.at(-1)!,
  };
}

test('arrow keys and j/k select a session; streams and reconnects follow the selection', async (t) => {
  const d = setup(relayStatus());
  await d.until((x) => x.includes('Connections and flows of alpha'));
  d.ui.stdin.write(DOWN);
  let f = await d.until((x) => x.includes('Connections and flows of beta'));
  t.regex(f, /192\.0\.2\.99:2456/);
  t.regex(f, /LINK_RESET/);
  t.regex(f, /> beta/);
  // The selection sticks to the session when a new snapshot arrives.
  d.source().push(relayStatus());
  d.ui.stdin.write(DOWN); // already last: stays
  f = await d.until((x) => x.includes('Connections and flows of beta'));
  t.regex(f, /Connections and flows of beta/);
  d.ui.stdin.write('k');
  f = await d.until((x) => x.includes('Connections and flows of alpha'));
  t.regex(f, /> alpha/);
  d.ui.stdin.write('j');
  await d.until((x) => x.includes('Connections and flows of beta'));
  d.ui.stdin.write(UP);
  f = await d.until((x) => x.includes('Connections and flows of alpha'));
  t.regex(f, /Connections and flows of alpha/);
  // Tab moves the focus: up/down then scroll the focused panel and leave the selection alone.
  d.ui.stdin.write(TAB);
  f = await d.until((x) => x.includes('▸ Mappings'));
  d.ui.stdin.write(DOWN);
  f = await d.until((x) => x.includes('▸ Mappings'));
  t.regex(f, /Connections and flows of alpha/);
  d.ui.unmount();
});

test('K asks for confirmation; n cancels, y calls the source kick with the selected agent', async (t) => {
  const d = setup(relayStatus());
  await d.until((x) => x.includes('alpha'));
  d.ui.stdin.write('K');
  let f = await d.until((x) => x.includes('Kick agent alpha?'));
  t.regex(f, /\[y\/n\] Kick agent alpha/);
  d.ui.stdin.write('n');
  f = await d.until((x) => !x.includes('Kick agent'));
  t.deepEqual(d.source().kicks, []);
  d.ui.stdin.write('K');
  await d.until((x) => x.includes('Kick agent alpha?'));
  d.ui.stdin.write('y');
  f = await d.until((x) => x.includes('kicked alpha'));
  t.regex(f, /kicked alpha/);
  t.deepEqual(d.source().kicks, ['alpha']);
  // The other session: the fake reports nothing was kicked.
  d.ui.stdin.write(DOWN);
  await d.until((x) => x.includes('Connections and flows of beta'));
  d.ui.stdin.write('K');
  await d.until((x) => x.includes('Kick agent beta?'));
  d.ui.stdin.write('y');
  f = await d.until((x) => x.includes('had no session'));
  t.regex(f, /beta had no session to kick/);
  t.deepEqual(d.source().kicks, ['alpha', 'beta']);
  d.ui.unmount();
});

test('p pauses the screen while snapshots keep arriving, and shows the latest on resume', async (t) => {
  const d = setup(relayStatus());
  await d.until((x) => x.includes('alpha'));
  d.ui.stdin.write('p');
  let f = await d.until((x) => x.includes('PAUSED'));
  d.source().push(relayStatus({ sessions: [session({ agent: 'gamma', id: '99' })] }));
  await waitFor(
    () => d.controller.getState().received,
    (n) => n >= 2,
  );
  f = d.frame();
  t.true(f.includes('alpha'));
  t.false(f.includes('gamma'));
  d.ui.stdin.write('p');
  f = await d.until((x) => x.includes('gamma'));
  t.false(f.includes('PAUSED'));
  t.false(f.includes('beta'));
  d.ui.unmount();
});

test('a lost connection shows a banner, retries every 2 s, and clears once connected again', async (t) => {
  const d = setup(relayStatus());
  await d.until((x) => x.includes('alpha'));
  d.refuse(true);
  d.source().die();
  let f = await d.until((x) => x.includes('admin connection lost'));
  t.regex(f, /COMMAND_CHANNEL_CLOSED/);
  t.regex(f, /retrying every 2 s/);
  t.true(d.sources[0]!.closed);
  // The last snapshot stays on screen under the banner.
  t.true(f.includes('alpha'));
  const before = d.attempts;
  d.clock.advance(RETRY_MS - 1);
  t.is(d.attempts, before);
  d.clock.advance(1);
  f = await d.until((x) => x.includes('1 failed'));
  t.is(d.attempts, before + 1);
  t.regex(f, /ADMIN_CONNECT/);
  d.refuse(false);
  d.clock.advance(RETRY_MS);
  f = await d.until((x) => !x.includes('admin connection lost'));
  t.regex(f, /live/);
  t.is(d.sources.length, 2);
  d.ui.unmount();
});

test('a connection that goes silent is probed and reported lost (source without onClose)', async (t) => {
  const d = setup(relayStatus(), { withOnClose: false });
  await d.until((x) => x.includes('alpha'));
  d.source().dead = true;
  d.refuse(true);
  // Pushes stop; the staleness watchdog probes status(), which fails.
  d.clock.advance(5_000);
  const f = await d.until((x) => x.includes('admin connection lost'));
  t.regex(f, /COMMAND_CHANNEL_CLOSED/);
  d.ui.unmount();
});

test('q quits and closes the source; nothing is retried afterwards', async (t) => {
  const d = setup(relayStatus());
  await d.until((x) => x.includes('alpha'));
  d.ui.stdin.write('q');
  await waitFor(
    () => d.source().closed,
    (v) => v,
  );
  t.true(d.source().closed);
  t.is(d.controller.getState().connection, 'closed');
  const attempts = d.attempts;
  d.clock.advance(10_000);
  t.is(d.attempts, attempts);
  t.is(d.clock.pending, 0);
});

test('Ctrl+C quits like q', async (t) => {
  const d = setup(relayStatus());
  await d.until((x) => x.includes('alpha'));
  d.ui.stdin.write('\u0003');
  await waitFor(
    () => d.source().closed,
    (v) => v,
  );
  t.true(d.source().closed);
});

test('peer text cannot inject terminal control sequences', async (t) => {
  const d = setup(relayStatus({ sessions: [session({ agent: 'evil\u001b[2Jname' })] }));
  const f = await d.until((x) => x.includes('evil'));
  t.false(f.includes('\u001b[2J'));
  t.regex(f, /evil\?\[2Jname/);
  d.ui.unmount();
});

/** A stdout of a fixed size, as ink-testing-library's has no rows and 100 columns. */
