// listenPublicTcp's localOf: a visitor's local end from the bound address, or from the socket on a wildcard bind.
import test from 'ava';
import net from 'node:net';
import { isWildcard, listenPublicTcp } from '../../src/forward/tcp-public.ts';

async function localEnds(host: string): Promise<{ told: unknown; real: unknown }> {
  let resolveEnds: (v: { told: unknown; real: unknown }) => void = () => {};
  const ends = new Promise<{ told: unknown; real: unknown }>((r) => (resolveEnds = r));
  const listener = await listenPublicTcp(host, 0, (socket) => {
    resolveEnds({
      told: listener.localOf(socket),
      real: { address: socket.localAddress, port: socket.localPort },
    });
    socket.destroy();
  });
  const client = net.connect({ host: '127.0.0.1', port: listener.port });
  client.on('error', () => {});
  try {
    return await ends;
  } finally {
    client.destroy();
    await listener.close();
  }
}

test('a listener bound to one address gives it as every visitor local end', async (t) => {
  const { told, real } = await localEnds('127.0.0.1');
  t.deepEqual(told, real);
});

test('a wildcard listener asks the socket for its local end', async (t) => {
  const { told, real } = await localEnds('0.0.0.0');
  t.deepEqual(told, real);
  t.is((told as { address: string }).address, '127.0.0.1');
});

test('isWildcard knows the any-addresses', (t) => {
  t.true(isWildcard('0.0.0.0'));
  t.true(isWildcard('::'));
  t.false(isWildcard('127.0.0.1'));
  t.false(isWildcard('::1'));
});
