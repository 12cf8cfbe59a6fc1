// Address and port-range parsing (src/util/ports.ts) and isAllowed, including round-trip properties.
import test from 'ava';
import fc from 'fast-check';
import { isAllowed, parseHostPort } from '../../src/config/index.ts';
import { isXnatError } from '../../src/errors.ts';
import {
  formatHostPort,
  formatPortRange,
  parseHost,
  parsePortRangeText,
  type PortRange,
} from '../../src/util/ports.ts';

test('parseHostPort accepts IPv4, [IPv6], hostnames and port 0..65535', (t) => {
  t.deepEqual(parseHostPort('0.0.0.0:7000'), { host: '0.0.0.0', port: 7000 });
  t.deepEqual(parseHostPort('[::]:0'), { host: '::', port: 0 });
  t.deepEqual(parseHostPort('[fe80::1%eth0]:22'), { host: 'fe80::1%eth0', port: 22 });
  t.deepEqual(parseHostPort('vps.example.com:65535'), { host: 'vps.example.com', port: 65535 });
  t.deepEqual(parseHostPort('my_host-1:80'), { host: 'my_host-1', port: 80 });
  t.deepEqual(parseHostPort('localhost:1'), { host: 'localhost', port: 1 });
});

test('parseHostPort refuses malformed addresses with CONFIG_INVALID', (t) => {
  for (const bad of [
    'example.com',
    'example.com:',
    ':80',
    'example.com:65536',
    'example.com:-1',
    'example.com:8o',
    '::1:80',
    '[::1]80',
    '[::1:80',
    '[example.com]:80',
    '300.1.1.1:80',
    'bad host:80',
    '-lead.example:80',
    `${'a'.repeat(64)}.example:80`,
  ]) {
    const err = t.throws(() => parseHostPort(bad), undefined, bad);
    t.true(isXnatError(err, 'XNAT_ERR_CONFIG_INVALID'), bad);
  }
});

test('parseHost strips brackets and refuses empty hosts', (t) => {
  t.deepEqual(parseHost('[::]'), { ok: true, value: '::' });
  t.deepEqual(parseHost('::'), { ok: true, value: '::' });
  t.false(parseHost('').ok);
});

test('formatHostPort round-trips through parseHostPort', (t) => {
  const host = fc.oneof(
    fc.ipV4(),
    fc.ipV6(),
    fc.domain().filter((d) => d.length <= 253),
  );
  fc.assert(
    fc.property(host, fc.integer({ min: 0, max: 65535 }), (h, port) => {
      const text = formatHostPort({ host: h, port });
      const back = parseHostPort(text);
      return back.port === port && formatHostPort(back) === text;
    }),
  );
  t.pass();
});

test('port ranges: single ports, ranges, case and spaces; refusals', (t) => {
  t.deepEqual(parsePortRangeText('25565/tcp'), {
    ok: true,
    value: { protocol: 'tcp', from: 25565, to: 25565 },
  });
  t.deepEqual(parsePortRangeText(' 2456 - 2458 / UDP '), {
    ok: true,
    value: { protocol: 'udp', from: 2456, to: 2458 },
  });
  for (const bad of ['0/tcp', '65536/tcp', '5-4/tcp', '80', '80/sctp', 'a-b/tcp', '1-2-3/tcp', '-1/tcp'])
    t.false(parsePortRangeText(bad).ok, bad);
});

test('isAllowed matches protocol and inclusive bounds', (t) => {
  const allow: PortRange[] = [
    { protocol: 'tcp', from: 25565, to: 25565 },
    { protocol: 'udp', from: 2456, to: 2458 },
  ];
  t.true(isAllowed(allow, 'tcp', 25565));
  t.false(isAllowed(allow, 'udp', 25565));
  t.true(isAllowed(allow, 'udp', 2456));
  t.true(isAllowed(allow, 'udp', 2458));
  t.false(isAllowed(allow, 'udp', 2459));
  t.false(isAllowed(allow, 'udp', 2455));
  t.false(isAllowed([], 'tcp', 80));
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 65535 }),
      fc.integer({ min: 1, max: 65535 }),
      fc.integer({ min: 1, max: 65535 }),
      (a, b, p) => {
        const r: PortRange = { protocol: 'tcp', from: Math.min(a, b), to: Math.max(a, b) };
        const parsed = parsePortRangeText(formatPortRange(r));
        return parsed.ok && isAllowed([parsed.value], 'tcp', p) === (p >= r.from && p <= r.to);
      },
    ),
  );
});
