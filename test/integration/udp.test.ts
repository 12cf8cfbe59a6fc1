// UDP mappings end to end with the real relay and agent processes: datagrams both ways through a flow,
// one flow per visitor address, and other visitors unaffected.
import test from 'ava';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, encodeKey } from '../../src/crypto/keys.ts';
import { startProcess, killAll } from '../helpers/procs.ts';

test.after.always(() => killAll());

function udpEcho(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) =>
    s.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address),
  );
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

/** Sends `text` from `socket` to the public port until an answer comes (UDP may drop the first while a flow opens). */
async function ask(socket: dgram.Socket, port: number, text: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const answer = new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 200);
      socket.once('message', (m) => {
        clearTimeout(timer);
        resolve(m.toString());
      });
    });
    socket.send(text, port, '127.0.0.1');
    const got = await answer;
    if (got !== undefined) return got;
  }
  throw new Error(`no answer to ${text}`);
}

test('a udp mapping carries datagrams both ways, one flow per visitor', async (t) => {
  t.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'xnat-udp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const echo = await udpEcho();
  t.teardown(() => echo.close());
  const relayKeys = generateKeyPair();
  const agentKeys = generateKeyPair();
  writeFileSync(
    join(dir, 'relay.yaml'),
    `relay:\n  listen: "127.0.0.1:0"\n  privateKey: "${encodeKey(relayKeys.privateKey)}"\n  publicHost: "127.0.0.1"\n` +
      `agents:\n  - name: game\n    publicKey: "${encodeKey(agentKeys.publicKey)}"\n    allow: ["20000-60000/udp"]\n`,
  );
  const relay = startProcess(['relay', '--profile', join(dir, 'relay.yaml')], { name: 'relay' });
  const control = await relay.waitForLog({ msg: 'listening', what: 'control' }, 30_000);
  writeFileSync(
    join(dir, 'agent.yaml'),
    `agent:\n  name: game\n  privateKey: "${encodeKey(agentKeys.privateKey)}"\n` +
      `relays:\n  - address: "127.0.0.1:${control.port}"\n    publicKey: "${encodeKey(relayKeys.publicKey)}"\n` +
      `mappings:\n  - name: bedrock\n    protocol: udp\n    remotePort: 0\n    local: "127.0.0.1:${echo.address().port}"\n    idleTimeout: 5s\n`,
  );
  const agent = startProcess(['agent', '--profile', join(dir, 'agent.yaml')], { name: 'agent' });
  const ready = await agent.waitForLog({ msg: 'mapping ready', mapping: 'bedrock' }, 30_000);
  const port = ready.remotePort as number;
  t.true(port >= 20000 && port <= 60000);

  const a = dgram.createSocket('udp4');
  const b = dgram.createSocket('udp4');
  t.teardown(() => (a.close(), b.close()));
  await Promise.all([
    new Promise<void>((r) => a.bind(0, '127.0.0.1', r)),
    new Promise<void>((r) => b.bind(0, '127.0.0.1', r)),
  ]);
  t.is(await ask(a, port, 'ping-a1'), 'echo:ping-a1');
  t.is(await ask(b, port, 'ping-b1'), 'echo:ping-b1');
  t.is(await ask(a, port, 'ping-a2'), 'echo:ping-a2');
  // A burst from one visitor arrives (best effort, but nothing is lost on an idle loopback).
  const got = new Set<string>();
  b.on('message', (m) => got.add(m.toString()));
  for (let i = 0; i < 50; i++) b.send(`burst-${i}`, port, '127.0.0.1');
  const deadline = Date.now() + 10_000;
  while (got.size < 45 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.true(got.size >= 45, `burst answers ${got.size}`);
});
