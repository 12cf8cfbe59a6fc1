// Reverse mode's listen socket over real TCP with a stand-in handshake: the relay's link reaches the
// waiting dial past silent strangers, strangers are evicted oldest first, aborts and close() are clean.
import test from 'ava';
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import type { Socket } from 'node:net';
import { LinkListener } from '../../src/agent/link-listener.ts';
import type { Link } from '../../src/link/link.ts';
import { XnatError } from '../../src/errors.ts';
import { silentLogger } from '../../src/observe/log.ts';

/** A stand-in link: what the listener touches (close event, destroy). */
class FakeLink extends EventEmitter {
  destroyed = false;
  constructor(readonly tag: string) {
    super();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

/** Every stand-in link made, in order. */
const made: FakeLink[] = [];

/** "Handshake": the first line the peer sends names the link; silence or a close fails it. */
function handshake(socket: Socket): Promise<Link> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      if (!text.includes('\n')) return;
      const link = new FakeLink(text.trim());
      made.push(link);
      resolve(link as unknown as Link);
    });
    socket.once('close', () =>
      reject(new XnatError('XNAT_ERR_LINK_HANDSHAKE_MALFORMED', { detail: 'closed' })),
    );
  });
}

async function started(maxPendingPerSource = 4) {
  const failures: string[] = [];
  const l = new LinkListener({
    listen: { host: '127.0.0.1', port: 0 },
    handshake,
    logger: silentLogger(),
    maxPendingPerSource,
    onFailure: (err) => failures.push(err.code),
  });
  const at = await l.ensureBound();
  return { l, port: at.port, failures };
}

async function connect(port: number): Promise<Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

test('the relay link reaches a waiting dial past silent strangers; the oldest strangers are evicted', async (t) => {
  const { l, port, failures } = await started(3);
  const waiting = l.next(new AbortController().signal);
  const strangers = await Promise.all([1, 2, 3, 4, 5].map(() => connect(port)));
  const closed = strangers.map((s) => once(s, 'close').then(() => true));
  const relay = await connect(port);
  relay.write('relay\n');
  const link = (await waiting) as unknown as FakeLink;
  t.is(link.tag, 'relay');
  // Same source: at most 3 unfinished; the two oldest went when the 4th and 5th came, a third for the relay.
  t.true(await closed[0]);
  t.true(await closed[1]);
  t.true(await closed[2]);
  t.true(l.stats().evicted >= 3);
  t.is(l.stats().established, 1);
  t.true(failures.every((c) => c === 'XNAT_ERR_LINK_HANDSHAKE_MALFORMED'));
  await l.close();
  // close() drops the strangers still pending.
  t.true(await closed[4]);
  relay.destroy();
});

test('an aborted dial rejects with its reason; a link that comes later is kept for the next dial', async (t) => {
  const { l, port } = await started();
  const ctl = new AbortController();
  const waiting = l.next(ctl.signal);
  ctl.abort(new XnatError('XNAT_ERR_ABORTED', { detail: 'test' }));
  await t.throwsAsync(waiting, { code: 'XNAT_ERR_ABORTED' });
  const relay = await connect(port);
  relay.write('kept\n');
  while (l.stats().established < 1) await new Promise((r) => setTimeout(r, 5));
  const link = (await l.next(new AbortController().signal)) as unknown as FakeLink;
  t.is(link.tag, 'kept');
  await l.close();
  relay.destroy();
});

test('a kept link that dies is not handed out; failed handshakes never fail a dial; close() fails dials', async (t) => {
  const { l, port, failures } = await started();
  const a = await connect(port);
  a.write('first\n');
  while (l.stats().established < 1) await new Promise((r) => setTimeout(r, 5));
  // The kept one dies (as when the relay gave up on it): gone from the queue, never handed out.
  made.find((m) => m.tag === 'first')!.destroy();
  const waiting = l.next(new AbortController().signal);
  const stranger = await connect(port);
  stranger.destroy();
  while (failures.length < 1) await new Promise((r) => setTimeout(r, 5));
  const b = await connect(port);
  b.write('second\n');
  t.is(((await waiting) as unknown as FakeLink).tag, 'second');
  const last = l.next(new AbortController().signal);
  await l.close();
  await t.throwsAsync(last, { code: 'XNAT_ERR_SESSION_CLOSED' });
  await t.throwsAsync(l.next(new AbortController().signal), { code: 'XNAT_ERR_SESSION_CLOSED' });
  a.destroy();
  b.destroy();
});
