// The relay's reverse-mode dialer on a fake clock: it redials at the agent's pace (backoff to the cap with
// no session, at most 400 ms apart early in a resumable outage), slowly after an auth refusal, never while
// the agent is attached elsewhere, and it hands every established link to the session server.
import test from 'ava';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { AgentDialer, type AgentLinkState } from '../../src/relay/agent-dialer.ts';
import type { Link } from '../../src/link/link.ts';
import { XnatError } from '../../src/errors.ts';
import { FakeClock } from '../../src/util/clock.ts';
import { silentLogger } from '../../src/observe/log.ts';

class FakeLink extends EventEmitter {
  closed = false;
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
  close(): void {
    this.destroy();
  }
}

interface Rig {
  readonly clock: FakeClock;
  readonly dialer: AgentDialer;
  /** Clock times of each TCP dial. */
  readonly dials: number[];
  readonly attached: FakeLink[];
  state: AgentLinkState;
  /** What the next dials do. */
  outcome: 'refused' | 'link' | 'wrong-agent';
  run(ms: number): Promise<void>;
}

function rig(): Rig {
  const clock = new FakeClock();
  const r = {
    clock,
    dials: [] as number[],
    attached: [] as FakeLink[],
    state: 'none' as AgentLinkState,
    outcome: 'refused' as Rig['outcome'],
  } as Rig & { dialer: AgentDialer };
  const fakeSocket = { destroy() {} } as unknown as Socket;
  r.dialer = new AgentDialer({
    agent: {
      name: 'home',
      publicKey: Buffer.alloc(32, 3),
      psk: undefined,
      allow: [],
      dial: { host: 'home.example', port: 7100 },
    },
    reconnect: { initialDelayMs: 200, maxDelayMs: 3_000, authRetryDelayMs: 60_000 },
    connect: () => {
      r.dials.push(clock.now());
      if (r.outcome === 'refused')
        return Promise.reject(new XnatError('XNAT_ERR_LINK_CONNECT', { detail: 'refused' }));
      return Promise.resolve(fakeSocket);
    },
    accept: () =>
      r.outcome === 'wrong-agent'
        ? Promise.reject(new XnatError('XNAT_ERR_AUTH_WRONG_AGENT'))
        : Promise.resolve(new FakeLink() as unknown as Link),
    attach: (link) => r.attached.push(link as unknown as FakeLink),
    agentState: () => r.state,
    clock,
    logger: silentLogger(),
    random: () => 0,
  });
  r.run = async (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      for (let i = 0; i < 4; i++) await new Promise((done) => setImmediate(done));
    }
  };
  return r;
}

const gaps = (xs: readonly number[]) => xs.slice(1).map((x, i) => x - xs[i]!);

test('with no session to resume, refused dials back off to the cap', async (t) => {
  const r = rig();
  r.dialer.start();
  await r.run(12_000);
  const g = gaps(r.dials);
  t.is(r.dials[0], 0);
  // The fake clock moves in 10 ms steps: a gap may be one step long.
  const near = (got: number, want: number) => got >= want && got <= want + 10;
  t.true(
    [200, 400, 800, 1600].every((want, i) => near(g[i]!, want)),
    g.join(','),
  );
  t.true(
    g.slice(4).every((d) => near(d, 3000)),
    g.join(','),
  );
  t.like(r.dialer.status(), { state: 'waiting', failures: { XNAT_ERR_LINK_CONNECT: r.dials.length } });
  r.dialer.close();
});

test('a lost link of a resumable session is redialed at most 400 ms apart for 30 s, then backs off', async (t) => {
  const r = rig();
  r.outcome = 'link';
  r.dialer.start();
  await r.run(50);
  t.is(r.attached.length, 1);
  r.state = 'attached';
  await r.run(20_000);
  // The link drops; the agent's session waits to resume; the agent is unreachable for 40 s.
  r.outcome = 'refused';
  r.state = 'detached';
  const from = r.dials.length;
  r.attached[0]!.destroy();
  await r.run(40_000);
  const outage = r.dials.slice(from);
  const early = gaps(outage.filter((x) => x - outage[0]! < 29_000));
  t.true(early.length > 50);
  t.true(
    early.every((d) => d <= 400),
    early.join(','),
  );
  const late = gaps(outage.filter((x) => x - outage[0]! > 31_000));
  t.true(
    late.some((d) => d > 400),
    late.join(','),
  );
  // The path returns: the next dial links, the session server gets it.
  r.outcome = 'link';
  await r.run(3_500);
  t.is(r.attached.length, 2);
  t.is(r.dialer.status().state, 'linked');
  r.dialer.close();
  t.true(r.attached[1]!.closed);
});

test('an answer by another agent waits authRetryDelay; an agent attached by itself is not dialed', async (t) => {
  const r = rig();
  r.outcome = 'wrong-agent';
  r.dialer.start();
  await r.run(59_000);
  t.is(r.dials.length, 1);
  await r.run(2_000);
  t.is(r.dials.length, 2);
  t.is(r.dialer.status().lastError?.code, 'XNAT_ERR_AUTH_WRONG_AGENT');
  r.dialer.close();

  const s = rig();
  s.state = 'attached';
  s.outcome = 'link';
  s.dialer.start();
  await s.run(1_000);
  t.is(s.dials.length, 0);
  s.state = 'detached';
  s.dialer.wake();
  await s.run(1_000);
  t.is(s.attached.length, 1);
  // Status's dialed-by: only a link this dialer made counts, not the agent's own, nor a closed one.
  t.true(s.dialer.owns(s.attached[0]!));
  t.false(s.dialer.owns(new FakeLink()));
  s.attached[0]!.destroy();
  t.false(s.dialer.owns(s.attached[0]!));
  s.dialer.close();
});
