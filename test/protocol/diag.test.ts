// The diagnostic bundle and its pull: the byte cap (oldest log lines dropped first), the last-guard
// redaction of profile secrets, and the inbox refusing transfers nobody asked for or larger than asked.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseAgentProfile } from '../../src/config/index.ts';
import { LogRing } from '../../src/observe/log-ring.ts';
import type { AgentStatus } from '../../src/observe/status.ts';
import { adminDiagBundle, DIAG_MIN_BYTES } from '../../src/protocol/index.ts';
import { buildDiagBundle, bundleSource } from '../../src/protocol/diag-bundle.ts';
import { DiagInbox, pullBundle } from '../../src/protocol/diag-inbox.ts';
import { isXnatError } from '../../src/errors.ts';
import { makePair } from '../command/pair.ts';

const key = randomBytes(32);
const psk = randomBytes(32);
const token = randomBytes(24).toString('hex');
const profile = parseAgentProfile(
  [
    'agent:',
    '  name: home',
    `  privateKey: "${key.toString('base64')}"`,
    'relays:',
    `  - { address: "relay.example.com:7000", publicKey: "${randomBytes(32).toString('base64')}", psk: "${psk.toString('base64')}" }`,
    'mappings:',
    '  - { name: web, remotePort: 8080, local: "127.0.0.1:80" }',
    'admin:',
    `  token: "${token}"`,
  ].join('\n'),
  'agent.yaml',
  {},
);
const status: AgentStatus = {
  role: 'agent',
  version: '0.0.0',
  name: 'home',
  startedAt: 0,
  relays: [],
  mappings: [],
};

function ringOf(lines: number): LogRing {
  const ring = new LogRing();
  for (let i = 0; i < lines; i++)
    ring.write(`${JSON.stringify({ level: 30, time: i, msg: `line ${i}`, pad: 'x'.repeat(200) })}\n`);
  return ring;
}

test('a bundle within its cap keeps the newest log lines and says how many it dropped', (t) => {
  const whole = buildDiagBundle({ status, profile, logs: ringOf(400) });
  const doc = JSON.parse(whole.toString()) as { logs: string[]; truncated?: unknown };
  t.is(doc.logs.length, 400);
  t.is(doc.truncated, undefined);

  const small = buildDiagBundle({ status, profile, logs: ringOf(400) }, DIAG_MIN_BYTES);
  t.true(small.length <= DIAG_MIN_BYTES);
  const cut = JSON.parse(small.toString()) as { logs: string[]; truncated: { logLinesDropped: number } };
  t.true(cut.truncated.logLinesDropped > 0);
  t.is(cut.logs.length + cut.truncated.logLinesDropped, 400);
  t.regex(cut.logs.at(-1)!, /line 399/);
});

test('no secret of the profile survives in a bundle, even one a log line carried', (t) => {
  const ring = new LogRing();
  ring.write(
    `${JSON.stringify({ level: 40, msg: 'oops', detail: key.toString('hex'), psk64: psk.toString('base64') })}\n`,
  );
  const text = buildDiagBundle({ status, profile, logs: ring }).toString();
  for (const s of [
    key.toString('hex'),
    key.toString('base64'),
    psk.toString('base64'),
    psk.toString('hex'),
    token,
  ])
    t.false(text.includes(s));
  const doc = JSON.parse(text) as { profile: { agent: { privateKey: string } }; logs: string[] };
  t.is(doc.profile.agent.privateKey, '[redacted]');
  t.regex(doc.logs[0]!, /detail=\[redacted\]/);
});

test('a pulled bundle arrives whole; an unasked or oversized transfer is refused with its code', async (t) => {
  const { a, b, rb } = makePair();
  const inbox = new DiagInbox();
  inbox.register(rb, adminDiagBundle);
  const bundle = buildDiagBundle({ status, profile, logs: ringOf(50) });

  // b asks a; a answers by pushing the bundle with the id it was given.
  const pulled = await pullBundle(inbox, 1 << 20, async (transferId) => {
    const { size, source } = bundleSource(bundle);
    await a.sendStream(adminDiagBundle.name, source, { size, meta: { transferId } });
  });
  const chunks: Buffer[] = [];
  for await (const c of pulled.source) chunks.push(c as Buffer);
  await pulled.done;
  t.true(Buffer.concat(chunks).equals(bundle));
  t.is(inbox.pending, 0);

  const unasked = await t.throwsAsync(
    a.sendStream(adminDiagBundle.name, Readable.from([Buffer.from('x')]), {
      size: 1,
      meta: { transferId: 99 },
    }),
  );
  t.true(isXnatError(unasked, 'XNAT_ERR_DIAG_UNEXPECTED'));

  const big = await t.throwsAsync(
    pullBundle(inbox, DIAG_MIN_BYTES, (transferId) =>
      a.sendStream(adminDiagBundle.name, Readable.from([bundle]), {
        size: DIAG_MIN_BYTES + 1,
        meta: { transferId },
      }),
    ),
  );
  t.true(isXnatError(big, 'XNAT_ERR_DIAG_TOO_LARGE'));
  t.is(inbox.pending, 0);
  a.close();
  b.close();
});
