// PROXY protocol against real consumers: nginx (`listen ... proxy_protocol`) behind a v1 and a v2 tcp
// mapping logs the visitor's own address ($proxy_protocol_addr, a 127.0.0.x the visitor bound), and a UDP
// service behind a v2 udp mapping parses a DGRAM header before every datagram.
import test from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync, mkdirSync } from 'node:fs';
import { TestEnv, freePort, programsAvailable, requirePrograms } from '../e2e/lib/env.ts';
import { killAll, waitFor } from '../helpers/procs.ts';
import { PROXY_V2_SIGNATURE } from '../../src/forward/proxy-protocol.ts';
import { askOnce, spawnDaemon, startHome } from './udp-stack.ts';

test.after.always(() => killAll());

const NGINX = '/usr/sbin/nginx';
const run = programsAvailable(NGINX) ? test : test.skip;

/** nginx on two free ports with proxy_protocol, logging `$proxy_protocol_addr $proxy_protocol_port`. */
async function startNginx(env: TestEnv): Promise<{ v1: number; v2: number; log: string }> {
  requirePrograms(NGINX);
  const v1 = await freePort();
  const v2 = await freePort();
  const dir = env.path('nginx');
  mkdirSync(`${dir}/logs`, { recursive: true });
  const log = `${dir}/logs/access.log`;
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `${k}_temp_path ${dir}/${k};`)
    .join('\n  ');
  const conf = env.write(
    'nginx.conf',
    `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log info;
events { worker_connections 64; }
http {
  ${temps}
  log_format pp '$proxy_protocol_addr $proxy_protocol_port $server_port';
  access_log ${log} pp;
  server {
    listen 127.0.0.1:${v1} proxy_protocol;
    listen 127.0.0.1:${v2} proxy_protocol;
    location / { return 200 "pp=$proxy_protocol_addr\\n"; }
  }
}
`,
  );
  const d = spawnDaemon(env, NGINX, ['-p', dir, '-c', conf, '-e', `${dir}/logs/error.log`]);
  for (const port of [v1, v2]) {
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => resolve(true));
          s.on('error', () => resolve(false));
          s.on('connect', () => s.destroy());
        }),
      30_000,
      `nginx listening on ${port} (${d.output()})`,
    );
  }
  return { v1, v2, log };
}

/** An HTTP GET from a visitor bound to `from`; resolves with the body. */
function get(port: number, from: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from });
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('end', () => resolve(text.slice(text.indexOf('\r\n\r\n') + 4)));
    s.on('error', reject);
    s.write('GET / HTTP/1.0\r\nHost: lan\r\n\r\n');
  });
}

/** A UDP service that expects a v2 DGRAM header before each datagram and answers with what it parsed. */
async function startUdpConsumer(env: TestEnv): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    let answer: string;
    if (msg.length < 28 || !msg.subarray(0, 12).equals(PROXY_V2_SIGNATURE)) answer = 'no header';
    else if (msg[12] !== 0x21 || msg[13] !== 0x12 || msg.readUInt16BE(14) !== 12) answer = 'bad header';
    else {
      const src = [...msg.subarray(16, 20)].join('.');
      const dst = [...msg.subarray(20, 24)].join('.');
      answer = `${src}:${msg.readUInt16BE(24)}>${dst}:${msg.readUInt16BE(26)}|${msg.subarray(28).toString()}`;
    }
    s.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  env.onDispose(() => s.close());
  return s.address().port;
}

run(
  'nginx logs the visitor address for v1 and v2 over tcp; a udp service parses v2 per datagram',
  async (t) => {
    t.timeout(120_000);
    const env = new TestEnv(t);
    const nginx = await startNginx(env);
    const udpPort = await startUdpConsumer(env);
    const { agent } = await startHome(env, [
      { name: 'web1', protocol: 'tcp', localPort: nginx.v1, extra: { proxyProtocol: 'v1' } },
      { name: 'web2', protocol: 'tcp', localPort: nginx.v2, extra: { proxyProtocol: 'v2' } },
      { name: 'game', protocol: 'udp', localPort: udpPort, extra: { proxyProtocol: 'v2' } },
    ]);
    t.is(await get(agent.ports.web1!, '127.0.0.2'), 'pp=127.0.0.2\n');
    t.is(await get(agent.ports.web2!, '127.0.0.3'), 'pp=127.0.0.3\n');
    await waitFor(
      () => readFileSync(nginx.log, 'utf8').trim().split('\n').length >= 2,
      30_000,
      'two access log lines',
    );
    const lines = readFileSync(nginx.log, 'utf8').trim().split('\n');
    const [addr1, , port1] = lines[0]!.split(' ');
    const [addr2, , port2] = lines[1]!.split(' ');
    t.deepEqual([addr1, Number(port1)], ['127.0.0.2', nginx.v1]);
    t.deepEqual([addr2, Number(port2)], ['127.0.0.3', nginx.v2]);

    const v = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => v.bind(0, '127.0.0.4', resolve));
    env.onDispose(() => v.close());
    const gamePort = agent.ports.game!;
    const answers: string[] = [];
    for (let i = 0; answers.length < 3 && i < 20; i++) {
      const a = await askOnce(v, gamePort, `ping-${i}`, 1_000);
      if (a !== undefined) answers.push(a);
    }
    t.is(answers.length, 3, 'answers came back');
    for (const a of answers) {
      t.regex(
        a,
        new RegExp(`^127\\.0\\.0\\.4:${v.address().port}>127\\.0\\.0\\.1:${gamePort}\\|ping-\\d+$`),
        a,
      );
    }
  },
);
