// PROXY protocol headers byte for byte: v1 text, v2 STREAM and DGRAM for IPv4 and IPv6, mixed families
// written IPv4-mapped, unknown addresses as UNKNOWN / LOCAL; and the IP text helper behind them.
import test from 'ava';
import { PROXY_V2_SIGNATURE, proxyHeaderV1, proxyHeaderV2 } from '../../src/forward/proxy-protocol.ts';
import { canonicalIp, ipBytes } from '../../src/util/ip.ts';

const v4 = {
  source: { address: '203.0.113.7', port: 51000 },
  destination: { address: '198.51.100.1', port: 25565 },
};

test('v1: TCP4, TCP6, IPv4-mapped folded, mixed families as TCP6, unknown', (t) => {
  t.is(proxyHeaderV1(v4).toString(), 'PROXY TCP4 203.0.113.7 198.51.100.1 51000 25565\r\n');
  t.is(
    proxyHeaderV1({
      source: { address: '2001:db8::7', port: 1 },
      destination: { address: '::1', port: 2 },
    }).toString(),
    'PROXY TCP6 2001:db8::7 ::1 1 2\r\n',
  );
  t.is(
    proxyHeaderV1({
      source: { address: '::ffff:10.0.0.1', port: 1 },
      destination: { address: '10.0.0.2', port: 2 },
    }).toString(),
    'PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n',
  );
  t.is(
    proxyHeaderV1({
      source: { address: '2001:db8::7', port: 1 },
      destination: { address: '10.0.0.2', port: 2 },
    }).toString(),
    'PROXY TCP6 2001:db8::7 ::ffff:10.0.0.2 1 2\r\n',
  );
  t.is(
    proxyHeaderV1({ source: { address: '', port: 0 }, destination: v4.destination }).toString(),
    'PROXY UNKNOWN\r\n',
  );
});

test('v2: signature, PROXY command, family and transport, length, addresses and ports', (t) => {
  const h = proxyHeaderV2(v4, 'tcp');
  t.deepEqual(h.subarray(0, 12), PROXY_V2_SIGNATURE);
  t.is(h[12], 0x21);
  t.is(h[13], 0x11, 'INET, STREAM');
  t.is(h.readUInt16BE(14), 12);
  t.deepEqual([...h.subarray(16, 20)], [203, 0, 113, 7]);
  t.deepEqual([...h.subarray(20, 24)], [198, 51, 100, 1]);
  t.is(h.readUInt16BE(24), 51000);
  t.is(h.readUInt16BE(26), 25565);
  t.is(h.length, 28);
  t.is(proxyHeaderV2(v4, 'udp')[13], 0x12, 'INET, DGRAM');
  const six = proxyHeaderV2(
    { source: { address: '2001:db8::7', port: 9 }, destination: { address: '::1', port: 80 } },
    'udp',
  );
  t.is(six[13], 0x22, 'INET6, DGRAM');
  t.is(six.readUInt16BE(14), 36);
  t.is(six.subarray(16, 32).toString('hex'), '20010db8000000000000000000000007');
  t.is(six.subarray(32, 48).toString('hex'), '00000000000000000000000000000001');
  t.is(six.readUInt16BE(48), 9);
  t.is(six.readUInt16BE(50), 80);
  const local = proxyHeaderV2({ source: { address: 'nope', port: 0 }, destination: v4.destination }, 'tcp');
  t.deepEqual([...local.subarray(12)], [0x20, 0x00, 0x00, 0x00], 'LOCAL, UNSPEC, no address block');
});

test('ip text: IPv4, IPv6 with :: and an IPv4 tail, zone ids, mapped addresses; junk is undefined', (t) => {
  t.is(ipBytes('1.2.3.4')?.toString('hex'), '01020304');
  t.is(ipBytes('::')?.toString('hex'), '0'.repeat(32));
  t.is(ipBytes('fe80::1%eth0')?.toString('hex'), 'fe80' + '0'.repeat(26) + '01');
  t.is(ipBytes('2001:db8::')?.toString('hex'), '20010db8' + '0'.repeat(24));
  t.is(ipBytes('64:ff9b::192.0.2.33')?.toString('hex'), '0064ff9b0000000000000000c0000221');
  t.is(canonicalIp('::FFFF:127.0.0.2'), '127.0.0.2');
  t.is(ipBytes(''), undefined);
  t.is(ipBytes('example.com'), undefined);
});
