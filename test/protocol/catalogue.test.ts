// The command catalogue and STREAM_OPEN meta codec: schemas, typed helpers end to end, malformed meta.
import test from 'ava';
import { encode } from '@msgpack/msgpack';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { XnatError } from '../../src/errors.ts';
import { createRegistry } from '../../src/command/registry.ts';
import {
  COMMANDS,
  PROTOCOL_VERSION,
  callRequest,
  checkProtocolVersion,
  decodeOpenMeta,
  encodeOpenMeta,
  handleOneWay,
  handleRequest,
  hello,
  mappingRegister,
  relayShutdown,
  sendOneWay,
} from '../../src/protocol/index.ts';
import { makePair, waitFor } from '../command/pair.ts';

test('every command has a name key, kind, direction, schema and doc; request kinds have a reply schema', (t) => {
  const required = [
    'hello',
    'mapping.register',
    'mapping.status',
    'stats.query',
    'session.kick',
    'config.reload',
    'relay.shutdown',
    'admin.status',
    'admin.subscribe',
    'admin.auth',
  ];
  for (const name of required) t.truthy(COMMANDS[name as keyof typeof COMMANDS], name);
  for (const [key, spec] of Object.entries(COMMANDS)) {
    t.is(spec.name, key);
    t.true(spec.doc.length > 10, key);
    t.is(spec.kind === 'request', 'reply' in spec && spec.reply !== undefined, key);
  }
  t.is(PROTOCOL_VERSION, 2);
});

test('docs/protocol.md documents every command', (t) => {
  const doc = readFileSync(resolve(import.meta.dirname, '..', '..', 'docs', 'protocol.md'), 'utf8');
  for (const name of Object.keys(COMMANDS)) t.true(doc.includes(`\`${name}\``), name);
});

test('hello and mapping.register end to end with typed helpers; version mismatch is XNAT_ERR_PROTOCOL_VERSION', async (t) => {
  const { a, rb } = makePair();
  handleRequest(rb, hello, (p) => {
    checkProtocolVersion(p.protocolVersion);
    return { relayName: 'vps', protocolVersion: PROTOCOL_VERSION, resumeWindowMs: 120_000 };
  });
  handleRequest(rb, mappingRegister, (p) => ({
    results: p.mappings.map((m) =>
      m.protocol === 'tcp'
        ? { name: m.name, ok: true, remotePort: m.remotePort || 40000 }
        : { name: m.name, ok: false, error: { code: 'XNAT_ERR_MAPPING_UNSUPPORTED', message: 'no udp' } },
    ),
  }));
  const ok = await callRequest(a, hello, {
    protocolVersion: PROTOCOL_VERSION,
    agentName: 'pi',
    software: 'xnat/0.1.0',
  });
  t.deepEqual(ok, { relayName: 'vps', protocolVersion: PROTOCOL_VERSION, resumeWindowMs: 120_000 });
  const bad = await t.throwsAsync(
    callRequest(a, hello, { protocolVersion: 1, agentName: 'pi', software: 'x' }),
  );
  t.is((bad as XnatError).code, 'XNAT_ERR_PROTOCOL_VERSION');
  const reg = await callRequest(a, mappingRegister, {
    mappings: [
      { name: 'mc', protocol: 'tcp', remotePort: 0 },
      { name: 'valheim', protocol: 'udp', remotePort: 2456 },
    ],
  });
  t.deepEqual(
    reg.results.map((r) => [r.name, r.ok, r.remotePort ?? r.error?.code]),
    [
      ['mc', true, 40000],
      ['valheim', false, 'XNAT_ERR_MAPPING_UNSUPPORTED'],
    ],
  );
  // The caller's own check refuses a bad payload before sending.
  const local = await t.throwsAsync(
    callRequest(a, mappingRegister, { mappings: [{ name: 'bad name!', protocol: 'tcp', remotePort: 1 }] }),
  );
  t.is((local as XnatError).code, 'XNAT_ERR_COMMAND_INVALID');
  t.is((local as XnatError).detail, 'mappings.0.name');
});

test('relay.shutdown one-way via the helpers; a helper refuses the wrong kind', async (t) => {
  const { a, rb } = makePair();
  const got: unknown[] = [];
  handleOneWay(rb, relayShutdown, (p) => void got.push(p));
  sendOneWay(a, relayShutdown, { reason: 'upgrade', reconnectAfterMs: 5000 });
  await waitFor(() => got.length === 1);
  t.deepEqual(got[0], { reason: 'upgrade', reconnectAfterMs: 5000 });
  t.throws(() => handleOneWay(createRegistry(), hello as never, () => undefined));
});

test('open meta round-trips (IPv4, IPv6, none, with and without local) and stays small', (t) => {
  const metas = [
    { mapping: 'minecraft', protocol: 'tcp' as const, visitor: { address: '2001:db8::1', port: 51234 } },
    {
      mapping: 'web.v2',
      protocol: 'tcp' as const,
      visitor: { address: '203.0.113.9', port: 4000 },
      local: { address: '198.51.100.1', port: 443 },
    },
    {
      mapping: 'x',
      protocol: 'tcp' as const,
      visitor: { address: '', port: 0 },
      local: { address: '', port: 0 },
    },
    {
      mapping: 'z',
      protocol: 'tcp' as const,
      visitor: { address: '::1', port: 1 },
      compress: 'deflate' as const,
    },
  ];
  for (const meta of metas) {
    const buf = encodeOpenMeta(meta);
    t.true(buf.length < 64);
    t.deepEqual(decodeOpenMeta(buf), meta);
  }
  // IPv4 travels as 4 raw bytes: version, tcp, name, kind 4, address, port, no local.
  t.is(
    encodeOpenMeta({ mapping: 'a', protocol: 'tcp', visitor: { address: '1.2.3.4', port: 258 } }).toString(
      'hex',
    ),
    '01010161' + '04' + '01020304' + '0102' + '00',
  );
});

test('malformed open meta is XNAT_ERR_PROTOCOL_OPEN_META, never a crash', (t) => {
  const valid = '01010161' + '04010203040102' + '00';
  const bad: Buffer[] = [
    Buffer.alloc(0),
    Buffer.alloc(4097, 0x90),
    Buffer.from([0xc1]),
    Buffer.from(encode({ mapping: 'x', protocol: 'tcp', visitor: { address: '1.2.3.4', port: 1 } })),
    Buffer.from('02' + valid.slice(2), 'hex'), // unknown version
    Buffer.from('0102' + valid.slice(4), 'hex'), // udp is no stream protocol
    Buffer.from(valid.slice(0, -4), 'hex'), // truncated
    Buffer.from(valid + '00', 'hex'), // flags 0 written: a second encoding
    Buffer.from(valid + '02', 'hex'), // unknown flag
    Buffer.from(valid + '0100', 'hex'), // trailing byte after the flags
    Buffer.from('01010120' + '04010203040102' + '00', 'hex'), // space in the mapping name
    Buffer.from('01010161' + '00' + '0102' + '00', 'hex'), // visitor absent
    Buffer.from('01010161' + '09010203040102' + '00', 'hex'), // unknown address kind
    Buffer.from('01010161' + '74' + '07' + Buffer.from('1.2.3.4').toString('hex') + '0102' + '00', 'hex'),
  ];
  for (const b of bad)
    t.is((t.throws(() => decodeOpenMeta(b)) as XnatError | undefined)?.code, 'XNAT_ERR_PROTOCOL_OPEN_META');
  for (const meta of [
    { mapping: 'x'.repeat(65), protocol: 'tcp' as const, visitor: { address: '', port: 0 } },
    { mapping: 'x', protocol: 'tcp' as const, visitor: { address: 'a b', port: 0 } },
    { mapping: 'x', protocol: 'tcp' as const, visitor: { address: '', port: 70000 } },
  ])
    t.throws(() => encodeOpenMeta(meta), { message: /stream open metadata/ });
});
