// Who may visit, on a fake clock: allow/deny for IPv4 and IPv6 (relay-wide and per mapping, deny wins),
// caps on open connections, rate limits that ban for a while, bounded rate state, live rule updates.
import test from 'ava';
import pino from 'pino';
import { VisitorPolicy, MAX_RATE_SOURCES } from '../../src/relay/visitor-policy.ts';
import { FakeClock } from '../../src/util/clock.ts';
import type { CidrBlock, VisitorsProfile } from '../../src/config/index.ts';

const silent = pino({ level: 'silent' });

function cidr(text: string): CidrBlock {
  const [address, p] = text.split('/') as [string, string | undefined];
  const family = address.includes(':') ? 'ipv6' : 'ipv4';
  return { text, address, prefix: p ? Number(p) : family === 'ipv4' ? 32 : 128, family };
}

function policy(profile: VisitorsProfile, clock = new FakeClock()) {
  return { p: new VisitorPolicy(profile, clock, silent), clock };
}

test('allow and deny, IPv4 and IPv6, relay-wide and per mapping; deny wins; mapped IPv6 is IPv4', (t) => {
  const { p } = policy({
    deny: [cidr('127.0.0.3')],
    mappings: [{ name: 'web', allow: [cidr('127.0.0.0/29'), cidr('::1')], deny: [cidr('127.0.0.5/32')] }],
  });
  t.true(p.admit('web', '127.0.0.2').ok);
  t.true(p.admit('web', '::ffff:127.0.0.2').ok, 'IPv4-mapped');
  t.true(p.admit('web', '::1').ok);
  t.deepEqual(p.admit('web', '127.0.0.3'), { ok: false, cause: 'denied' }, 'relay-wide deny');
  t.deepEqual(p.admit('web', '127.0.0.5'), { ok: false, cause: 'denied' }, 'mapping deny inside its allow');
  t.deepEqual(p.admit('web', '127.0.0.9'), { ok: false, cause: 'notAllowed' });
  t.deepEqual(p.admit('web', '2001:db8::1'), { ok: false, cause: 'notAllowed' });
  t.deepEqual(p.admit('web', ''), { ok: false, cause: 'notAllowed' }, 'no address: not in any allow list');
  t.true(p.admit('other', '127.0.0.9').ok, 'other mappings only see the relay-wide rules');
  t.deepEqual(p.admit('other', '127.0.0.3'), { ok: false, cause: 'denied' });
  t.is(p.refused.denied, 3);
  t.is(p.refusedFor('web').notAllowed, 3);
  t.is(p.refusedFor('other').denied, 1);
});

test('caps: maxConnections per mapping, per source relay-wide and per mapping; release frees the slot', (t) => {
  const { p } = policy({
    maxConnectionsPerSource: 3,
    mappings: [{ name: 'web', maxConnections: 4, maxConnectionsPerSource: 2 }],
  });
  const a1 = p.admit('web', '127.0.0.2');
  const a2 = p.admit('web', '127.0.0.2');
  t.true(a1.ok && a2.ok);
  t.deepEqual(p.admit('web', '127.0.0.2'), { ok: false, cause: 'perSource' });
  t.true(p.admit('other', '127.0.0.2').ok, 'relay-wide: third of three');
  t.deepEqual(p.admit('other', '127.0.0.2'), { ok: false, cause: 'perSource' });
  t.true(p.admit('web', '127.0.0.3').ok);
  t.true(p.admit('web', '127.0.0.4').ok);
  t.deepEqual(p.admit('web', '127.0.0.6'), { ok: false, cause: 'maxConnections' });
  if (a1.ok) {
    a1.release();
    a1.release(); // idempotent
  }
  t.true(p.admit('web', '127.0.0.6').ok, 'a slot freed by one release only');
  t.deepEqual(p.admit('web', '127.0.0.7'), { ok: false, cause: 'maxConnections' });
  t.is(p.refusedFor('web').maxConnections, 2);
});

test('IPv6 sources count by /64', (t) => {
  const { p } = policy({ maxConnectionsPerSource: 1, mappings: [] });
  t.true(p.admit('web', '2001:db8:0:1::1').ok);
  t.deepEqual(p.admit('web', '2001:db8:0:1::2'), { ok: false, cause: 'perSource' }, 'same /64');
  t.true(p.admit('web', '2001:db8:0:2::1').ok, 'another /64');
});

test('rate: a burst of `connections`, then a ban for banMs, then a full bucket again', (t) => {
  const { p, clock } = policy({
    mappings: [{ name: 'web', rate: { connections: 3, perMs: 10_000, banMs: 60_000 } }],
  });
  for (let i = 0; i < 3; i++) t.true(p.admit('web', '127.0.0.2').ok, `burst ${i}`);
  t.deepEqual(p.admit('web', '127.0.0.2'), { ok: false, cause: 'rate' });
  t.true(p.admit('web', '127.0.0.3').ok, 'another source is not affected');
  clock.advance(30_000);
  t.deepEqual(p.admit('web', '127.0.0.2'), { ok: false, cause: 'banned' }, 'refill does not end a ban');
  clock.advance(30_000);
  for (let i = 0; i < 3; i++) t.true(p.admit('web', '127.0.0.2').ok, `after the ban ${i}`);
  t.deepEqual(p.admit('web', '127.0.0.2'), { ok: false, cause: 'rate' }, 'a new burst bans again');
  clock.advance(60_000 + 10_000 / 3);
  // Steady below the rate is never banned: one per perMs / connections.
  for (let i = 0; i < 10; i++) {
    t.true(p.admit('web', '127.0.0.2').ok, `steady ${i}`);
    clock.advance(10_000 / 3);
  }
  const r = p.refusedFor('web');
  t.deepEqual([r.rate, r.banned], [2, 1]);
});

test('a flow is screened by lists and rates, not by connection caps', (t) => {
  const { p } = policy({
    deny: [cidr('10.0.0.0/8')],
    maxConnectionsPerSource: 1,
    rate: { connections: 2, perMs: 1_000, banMs: 5_000 },
    mappings: [],
  });
  t.is(p.admitFlow('game', '10.1.2.3'), 'denied');
  t.is(p.admitFlow('game', '127.0.0.2'), undefined);
  t.is(p.admitFlow('game', '127.0.0.2'), undefined);
  t.is(p.admitFlow('game', '127.0.0.2'), 'rate');
  t.is(p.admitFlow('game', '127.0.0.2'), 'banned');
});

test('rate state is bounded: the least recently seen source is forgotten first', (t) => {
  const { p } = policy({ rate: { connections: 1, perMs: 60_000, banMs: 60_000 }, mappings: [] });
  t.true(p.admit('web', '10.0.0.1').ok);
  t.deepEqual(p.admit('web', '10.0.0.1'), { ok: false, cause: 'rate' });
  for (let i = 0; i < MAX_RATE_SOURCES; i++) {
    const a = p.admit('web', `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (a.ok) a.release();
  }
  t.true(p.admit('web', '10.0.0.1').ok, 'its ban was evicted with its state');
});

test('update() applies new rules to the next visitor; open counts carry over', (t) => {
  const { p } = policy({ mappings: [{ name: 'web', maxConnections: 1 }] });
  const a = p.admit('web', '127.0.0.2');
  t.true(a.ok);
  p.update({ deny: [cidr('127.0.0.2')], mappings: [{ name: 'web', maxConnections: 1 }] });
  t.deepEqual(p.admit('web', '127.0.0.2'), { ok: false, cause: 'denied' });
  t.deepEqual(p.admit('web', '127.0.0.4'), { ok: false, cause: 'maxConnections' }, 'still one open');
  p.update(undefined);
  t.true(p.admit('web', '127.0.0.2').ok, 'no rules: everyone');
});
