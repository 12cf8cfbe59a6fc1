// transport/: the in-memory pair (order, backpressure, EOF) and TCP dial/listen helpers on 127.0.0.1.
import test from 'ava';
import type net from 'node:net';
import { isXnatError } from '../../src/errors.ts';
import { createDuplexPair } from '../../src/transport/memory-pair.ts';
import { dialTcp, listenTcp } from '../../src/transport/tcp.ts';
import { waitFor } from './link-helpers.ts';

test('memory pair: bytes in order both ways, backpressure holds the writer until the reader reads', async (t) => {
  const [a, b] = createDuplexPair(1024);
  let ok = true;
  let written = 0;
  while (ok) {
    ok = a.write(Buffer.alloc(512, written & 0xff));
    written += 512;
  }
  t.true(written <= 8 * 1024, 'writer is held back');
  await new Promise((r) => setImmediate(r));
  t.is(b.readableLength <= 1024 + 512, true);
  const got: Buffer[] = [];
  b.on('data', (c: Buffer) => got.push(c));
  await new Promise<void>((r) => a.once('drain', r));
  await waitFor(() => Buffer.concat(got).length === written);
  const all = Buffer.concat(got);
  t.is(all[0], 0);
  t.is(all[all.length - 1], (written - 512) & 0xff);
  const back = new Promise<Buffer>((r) => a.once('data', r));
  b.write(Buffer.from('reply'));
  t.is((await back).toString(), 'reply');
});

test('memory pair: destroying one side ends the other', async (t) => {
  const [a, b] = createDuplexPair();
  b.resume();
  const ended = new Promise<void>((r) => b.once('end', r));
  a.destroy();
  await ended;
  t.pass();
});

test('listenTcp on port 0 and dialTcp connect tuned sockets; close() ends live ones', async (t) => {
  const accepted: net.Socket[] = [];
  const l = await listenTcp('127.0.0.1', 0, (s) => accepted.push(s));
  t.true(l.port > 0);
  const c = await dialTcp('127.0.0.1', l.port);
  await waitFor(() => accepted.length === 1);
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.on('error', () => {});
  await l.close();
  await closed;
  await l.close(); // idempotent
  t.pass();
});

test('dialTcp to a closed port: XNAT_ERR_LINK_CONNECT; abort: XNAT_ERR_ABORTED', async (t) => {
  const l = await listenTcp('127.0.0.1', 0, () => {});
  const port = l.port;
  await l.close();
  const err = await t.throwsAsync(dialTcp('127.0.0.1', port));
  t.true(isXnatError(err, 'XNAT_ERR_LINK_CONNECT'));
  t.regex((err as Error).message, /ECONNREFUSED/);
  const ac = new AbortController();
  ac.abort();
  t.true(
    isXnatError(await t.throwsAsync(dialTcp('127.0.0.1', port, { signal: ac.signal })), 'XNAT_ERR_ABORTED'),
  );
});

test('listenTcp on a taken port: XNAT_ERR_LINK_LISTEN', async (t) => {
  const l = await listenTcp('127.0.0.1', 0, () => {});
  const err = await t.throwsAsync(listenTcp('127.0.0.1', l.port, () => {}));
  t.true(isXnatError(err, 'XNAT_ERR_LINK_LISTEN'));
  await l.close();
});
