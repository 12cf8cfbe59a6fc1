// CommandHub: broadcast to many peers, request to all, and peers leaving when their endpoint closes.
import test from 'ava';
import { z } from 'zod';
import { CommandHub } from '../../src/command/hub.ts';
import { makePair, waitFor } from './pair.ts';

test('broadcast reaches every peer once; closed endpoints leave the hub', async (t) => {
  const hub = new CommandHub();
  const got: Record<string, unknown[]> = {};
  const pairs = ['pi', 'nas', 'vm'].map((name) => {
    const p = makePair();
    got[name] = [];
    p.rb.register('relay.shutdown', {
      kind: 'oneway',
      schema: z.object({ reason: z.string() }),
      handler: (m) => void got[name]!.push(m),
    });
    p.rb.register('whoami', { kind: 'request', schema: z.unknown(), handler: () => name });
    hub.add(name, p.a);
    return p;
  });
  t.is(hub.size, 3);
  t.deepEqual(hub.broadcast('relay.shutdown', { reason: 'upgrade' }), { sent: 3, failed: 0 });
  await waitFor(() => Object.values(got).every((g) => g.length === 1));
  t.deepEqual(got.pi, [{ reason: 'upgrade' }]);

  const all = await hub.requestAll<string>('whoami', null);
  t.deepEqual(
    [...all.entries()].map(([k, r]) => [k, r.ok && r.value]),
    [
      ['pi', 'pi'],
      ['nas', 'nas'],
      ['vm', 'vm'],
    ],
  );

  pairs[1]!.ca.close();
  await waitFor(() => hub.size === 2);
  t.deepEqual(hub.keys(), ['pi', 'vm']);
  // Replacing a key does not let the old endpoint's close remove the new one.
  const fresh = makePair();
  hub.add('pi', fresh.a);
  pairs[0]!.ca.close();
  await waitFor(() => pairs[0]!.a.closed);
  t.is(hub.get('pi'), fresh.a);
});
