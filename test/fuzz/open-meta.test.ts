// Fuzzing the STREAM_OPEN metadata: any bytes (random, mutated valid metas, msgpack of near-miss shapes as
// the old layout's bytes, huge declared lengths) decode to a valid OpenMeta or XNAT_ERR_PROTOCOL_OPEN_META;
// valid metas round-trip, and near-miss objects are refused by the encoder with the same code. Budget: XNAT_FUZZ_SECONDS / XNAT_FUZZ_RUNS (see fuzz-kit.ts); cases kept in
// test/fixtures/fuzz/open-meta/.
import test from 'ava';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { decodeOpenMeta, encodeOpenMeta, type OpenMeta } from '../../src/protocol/open-meta.ts';
import { MAX_OPEN_META_BYTES } from '../../src/wire/frame.ts';
import { mutatedArb } from '../wire/arbitraries.ts';
import { fixtureBytes, fuzzParams, fuzzTimeoutMs, loadFixtures, outcome } from './fuzz-kit.ts';

const CODES = ['XNAT_ERR_PROTOCOL_OPEN_META'] as const;

const endpointArb = fc.record({
  address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant(''), fc.stringMatching(/^[\x21-\x7e]{0,64}$/)),
  port: fc.integer({ min: 0, max: 65535 }),
});

const metaArb: fc.Arbitrary<OpenMeta> = fc.record(
  {
    mapping: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
    protocol: fc.constant('tcp' as const),
    visitor: endpointArb,
    local: endpointArb,
    compress: fc.constant('deflate' as const),
  },
  { requiredKeys: ['mapping', 'protocol', 'visitor'] },
);

/** Values that are almost a meta: a field missing, of another type, out of range, or one too many. */
const nearMissArb: fc.Arbitrary<unknown> = fc
  .tuple(
    metaArb,
    fc.constantFrom(
      'mapping',
      'protocol',
      'visitor',
      'local',
      'compress',
      'address',
      'port',
      'extra',
      '__proto__',
      'constructor',
    ),
    fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(-1, 65536, 1.5, 2 ** 53, '', 'udp', 'x'.repeat(65), null, true),
      fc.array(fc.nat(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.nat(), { maxKeys: 3 }),
    ),
  )
  .map(([meta, field, value]) => {
    const m = { ...meta, visitor: { ...meta.visitor } } as Record<string, unknown> & {
      visitor: Record<string, unknown>;
    };
    const target = field === 'address' || field === 'port' ? m.visitor : m;
    if (value === undefined) delete target[field];
    else
      Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true });
    return m;
  });

const nest = (depth: number): unknown => {
  let v: unknown = { mapping: 'a', protocol: 'tcp', visitor: { address: '', port: 1 } };
  for (let i = 0; i < depth; i++) v = { visitor: v };
  return v;
};

const bytesArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
  nearMissArb.map((v) => Buffer.from(encode(v))),
  mutatedArb(metaArb.map(encodeOpenMeta)),
  fc.integer({ min: 1, max: 80 }).map((d) => Buffer.from(encode(nest(d), { maxDepth: 200 }))),
  // A map header declaring 2^32 - 1 entries, then almost nothing.
  fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.concat([Buffer.from('dfffffffff', 'hex'), a])),
  fc
    .integer({ min: MAX_OPEN_META_BYTES - 2, max: MAX_OPEN_META_BYTES + 2 })
    .map((n) => Buffer.alloc(n, 0xc0)),
);

test('decodeOpenMeta on any bytes: a valid meta that re-encodes to the same value, or OPEN_META', (t) => {
  t.timeout(fuzzTimeoutMs(1));
  fc.assert(
    fc.property(bytesArb, (bytes) => {
      const r = outcome(() => decodeOpenMeta(bytes), CODES, 'decodeOpenMeta');
      if (r.err) return true;
      t.deepEqual(decodeOpenMeta(encodeOpenMeta(r.ok)), r.ok);
      return true;
    }),
    fuzzParams(1),
  );
});

test('round trip: every valid meta decodes to itself; encodeOpenMeta refuses only with OPEN_META', (t) => {
  t.timeout(fuzzTimeoutMs(0.5));
  fc.assert(
    fc.property(fc.oneof(metaArb, nearMissArb as fc.Arbitrary<OpenMeta>), (meta) => {
      const r = outcome(() => encodeOpenMeta(meta), CODES, 'encodeOpenMeta');
      if (r.err) return true;
      t.deepEqual(decodeOpenMeta(r.ok), meta);
      return true;
    }),
    fuzzParams(0.5),
  );
});

for (const fx of loadFixtures('open-meta')) {
  test(`kept case ${fx.file}: ${fx.note}`, (t) => {
    const r = outcome(() => decodeOpenMeta(fixtureBytes(fx.hex ?? '')), CODES);
    t.is(r.err?.code ?? 'ok', fx.expect);
  });
}
