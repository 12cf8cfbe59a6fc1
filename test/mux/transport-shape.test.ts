// The Session of src/session/ must satisfy MuxTransport structurally; tsc checks this file.
import test from 'ava';
import type { MuxTransport } from '../../src/mux/mux-transport.ts';
import type { Session } from '../../src/session/session.ts';
import { memoryTransportPair } from './memory-transport.ts';

/** Compiles only while a Session can be handed to `new Mux(...)`. */
export const asMuxTransport = (session: Session): MuxTransport => session;

test('the in-memory test transport is a MuxTransport too', (t) => {
  const [a]: MuxTransport[] = memoryTransportPair();
  t.true(a!.writable);
});
