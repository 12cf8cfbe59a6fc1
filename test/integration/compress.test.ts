// compress: deflate through real processes: a compressible upload and an incompressible download arrive
// with the same SHA-256, and the session carries far fewer bytes than the visitor sent.
import test from 'ava';
import { createHash } from 'node:crypto';
import { TestEnv } from '../e2e/lib/env.ts';
import { connectVisitor, hashIncoming, seededDigest, startHashServer } from '../e2e/lib/targets.ts';
import { killAll } from '../helpers/procs.ts';
import { admin, relayStatus, startHome } from './udp-stack.ts';

test.after.always(() => killAll());

const LINE = Buffer.from(
  '2026-12-02T01:00:00Z INFO visitor connected mapping=web stream=42 from=203.0.113.7\n',
);
const UPLOAD_BYTES = 8 * 1024 * 1024;
const REPLY_BYTES = 2 * 1024 * 1024;

test('a deflate mapping round-trips with equal hashes both ways and shrinks compressible bytes', async (t) => {
  t.timeout(120_000);
  const env = new TestEnv(t);
  const server = await startHashServer(env, { replySeed: 'zip-reply', replyBytes: REPLY_BYTES });
  const { relay, agent } = await startHome(env, [
    { name: 'zip', protocol: 'tcp', localPort: server.port, extra: { compress: 'deflate' } },
  ]);
  const client = await admin(env, relay);
  const before = (await relayStatus(client)).sessions[0]!.bytesSent;

  const visitor = await connectVisitor(env, agent.ports.zip!);
  const down = hashIncoming(visitor);
  const hash = createHash('sha256');
  const block = Buffer.concat(Array<Buffer>(Math.ceil((64 * 1024) / LINE.length)).fill(LINE)).subarray(
    0,
    64 * 1024,
  );
  for (let sent = 0; sent < UPLOAD_BYTES; sent += block.length) {
    hash.update(block);
    if (!visitor.write(block)) await new Promise((r) => visitor.once('drain', r));
  }
  visitor.end();
  const side = await server.connection();
  const up = await side.received;
  t.is(up.bytes, UPLOAD_BYTES);
  t.is(up.sha256, hash.digest('hex'), 'upload intact');
  t.is(up.ending, 'end');
  const got = await down;
  t.is(got.sha256, seededDigest('zip-reply', REPLY_BYTES), 'download intact');
  t.is(got.ending, 'end');
  const onWire = (await relayStatus(client)).sessions[0]!.bytesSent - before;
  t.log(`relay sent ${onWire} bytes in frames for ${UPLOAD_BYTES} compressible bytes`);
  t.true(onWire < UPLOAD_BYTES / 10, `${onWire} bytes on the session`);
});
