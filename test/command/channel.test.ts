// muxCommandChannel over a stand-in for the mux's command lane (sendCommand / 'command' / 'drain' / 'close').
import test from 'ava';
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { XnatError } from '../../src/errors.ts';
import { muxCommandChannel } from '../../src/command/channel.ts';
import { CommandEndpoint } from '../../src/command/endpoint.ts';
import { createRegistry } from '../../src/command/registry.ts';

/** Two fake muxes wired back to back, as two sessions' command lanes would be. */
class FakeMux extends EventEmitter {
  other!: FakeMux;
  writable = true;
  sendCommand(body: Buffer): boolean {
    setImmediate(() => this.other.emit('command', body));
    return this.writable;
  }
}

test('an endpoint runs over muxCommandChannel; drain and close pass through', async (t) => {
  const m1 = new FakeMux();
  const m2 = new FakeMux();
  m1.other = m2;
  m2.other = m1;
  const r2 = createRegistry().register('ping', {
    kind: 'request',
    schema: z.number(),
    handler: (n) => n + 1,
  });
  const e1 = new CommandEndpoint(muxCommandChannel(m1), { registry: createRegistry() });
  new CommandEndpoint(muxCommandChannel(m2), { registry: r2 });
  t.is(await e1.request('ping', 41), 42);

  const ch = muxCommandChannel(m1);
  let drained = 0;
  let closedWith: unknown;
  ch.on('drain', () => drained++);
  ch.on('close', (err) => (closedWith = err));
  m1.writable = false;
  t.false(ch.send(Buffer.from([0x90])));
  m1.emit('drain');
  t.is(drained, 1);

  const pending = e1.request('ping', 1);
  m1.emit('closed', new XnatError('XNAT_ERR_LINK_RESET'));
  t.is((closedWith as XnatError).code, 'XNAT_ERR_LINK_RESET');
  t.is(((await t.throwsAsync(pending)) as XnatError).code, 'XNAT_ERR_LINK_RESET');
  t.throws(() => ch.send(Buffer.alloc(1)), { instanceOf: XnatError });
  t.is(m1.listenerCount('command'), 0, 'listeners detached after close');
});
