// `xnat status`: one-shot status of a running relay or agent through its admin endpoint.
import type { Command } from 'commander';
import { AdminClient } from '../admin/admin-client.ts';
import { resolveAdminTarget } from './admin-target.ts';
import { formatBytes } from '../util/bytes.ts';
import type { Status, SessionStatus } from '../observe/status.ts';
import type { StatsQueryReply } from '../protocol/index.ts';

/** Renders an agent's own counters (stats.query through the relay) as a few human lines. */
export function renderAgentStats(name: string, r: StatsQueryReply): string {
  const s = r.session;
  const lines = [
    `agent ${name} (its own side, through the relay)`,
    `  session links=${s.links ?? 0} resumes=${s.resumes ?? 0} sent=${formatBytes(s.bytesSent ?? 0)} received=${formatBytes(s.bytesReceived ?? 0)}`,
    `  streams active=${r.streams.active ?? 0} total=${r.streams.total ?? 0}`,
  ];
  for (const [m, t] of Object.entries(r.mappings ?? {})) {
    const ms = (v: number | undefined) => `${(v ?? 0).toFixed(1)}ms`;
    lines.push(
      `  mapping ${m} lan connects=${t.connects ?? 0} connect-errors=${t.connectErrors ?? 0} ` +
        `connect last=${ms(t.connectMsLast)} avg=${ms(t.connectMsAvg)} max=${ms(t.connectMsMax)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Renders a snapshot as a few human lines. */
export function renderStatus(s: Status): string {
  const lines: string[] = [];
  // Which way datagrams take (udp, tcp-lane, probing) and the UDP path's counters.
  const datagramPath = (x: SessionStatus) => {
    const p = x.datagramPath;
    if (!p) return '';
    return (
      ` datagrams=${p.path} udp-sent=${p.sent} udp-received=${p.received} replayed=${p.replayed} ` +
      `bad-tag=${p.badTag} fallbacks=${p.fallbacks}${p.peer ? ` udp-peer=${p.peer}` : ''}`
    );
  };
  const session = (x: SessionStatus) =>
    `  session ${x.id.slice(0, 12)} agent=${x.agent} state=${x.state} rtt=${x.rttMs === undefined ? '-' : `${x.rttMs.toFixed(1)}ms`} ` +
    `resumes=${x.resumes} sent=${formatBytes(x.bytesSent)} received=${formatBytes(x.bytesReceived)} streams=${x.streams.length}` +
    `${x.dialedBy === 'relay' ? ' dialed-by=relay' : ''}` +
    datagramPath(x);
  if (s.role === 'relay') {
    lines.push(
      `relay ${s.version} control=${s.control ? `${s.control.address}:${s.control.port}` : '-'} sessions=${s.sessions.length}`,
    );
    for (const x of s.sessions) lines.push(session(x));
    for (const d of s.dialers ?? [])
      lines.push(
        `  dialer agent=${d.agent} dial=${d.dial} state=${d.state} dials=${d.dials}${d.lastError ? ` last-error=${d.lastError.code}` : ''}`,
      );
  } else {
    lines.push(`agent ${s.name} ${s.version}`);
    for (const r of s.relays) {
      lines.push(
        `  relay ${r.address} state=${r.state}${r.dialedBy === 'relay' ? ` dialed-by=relay listen=${r.listen ?? '-'}` : ''}` +
          `${r.lastError ? ` last-error=${r.lastError.code}` : ''}`,
      );
      if (r.session) lines.push(`  ${session(r.session)}`);
    }
  }
  for (const m of s.mappings) {
    lines.push(
      `  mapping ${m.name} ${m.protocol} remotePort=${m.remotePort} phase=${m.phase}` +
        `${m.local ? ` local=${m.local}` : ''} active=${m.activeStreams} total=${m.totalStreams}${m.error ? ` error=${m.error.code}` : ''}`,
    );
  }
  if (s.admin) {
    const a = s.admin;
    lines.push(
      `  admin connections=${a.connections} unauthenticated=${a.unauthenticated} refused=${a.refused} ` +
        `evicted=${a.evicted} timedOut=${a.timedOut} authFailures=${a.authFailures} ` +
        `closedAfterFailures=${a.closedAfterFailures} badMessages=${a.badMessages}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('print the status of a running relay or agent (through its admin endpoint)')
    .option('-p, --profile <file>', 'profile of the running relay or agent (its admin block)')
    .option('--admin <host:port>', 'admin endpoint address (instead of --profile)')
    .option('--token <token>', 'admin token (default: XNAT_ADMIN_TOKEN)')
    .option('--json', 'print the snapshot as JSON')
    .option('--agent <name>', "on a relay: the named agent's own side (LAN connects, errors, latency)")
    .action(
      async (opts: { profile?: string; admin?: string; token?: string; json?: boolean; agent?: string }) => {
        const target = await resolveAdminTarget(opts);
        const client = await AdminClient.connect(target.host, target.port, target.token);
        try {
          if (opts.agent !== undefined) {
            const stats = await client.agentStats(opts.agent);
            process.stdout.write(
              opts.json ? `${JSON.stringify(stats, null, 2)}\n` : renderAgentStats(opts.agent, stats),
            );
            return;
          }
          const status = await client.status();
          process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
        } finally {
          client.close();
        }
      },
    );
}

export function addReloadCommand(program: Command): void {
  program
    .command('reload')
    .description(
      'make a running relay (agents, allow lists, psks) or agent (mappings) re-read its profile, through its admin endpoint',
    )
    .option('-p, --profile <file>', 'profile of the running relay or agent (its admin block)')
    .option('--admin <host:port>', 'admin endpoint address (instead of --profile)')
    .option('--token <token>', 'admin token (default: XNAT_ADMIN_TOKEN)')
    .action(async (opts: { profile?: string; admin?: string; token?: string }) => {
      const target = await resolveAdminTarget(opts);
      const client = await AdminClient.connect(target.host, target.port, target.token);
      try {
        const changes = await client.reload();
        process.stdout.write(changes.length ? `${changes.join('\n')}\n` : 'no changes\n');
      } finally {
        client.close();
      }
    });
}
