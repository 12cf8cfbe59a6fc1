// Snapshot factories, a fake DashboardSource and a sized fake terminal for the dashboard tests.
import { EventEmitter } from 'node:events';
import { render as inkRender } from 'ink';
import type { ReactElement } from 'react';
import { XnatError } from '../../src/errors.ts';
import type {
  AgentStatus,
  FlowStatus,
  MappingStatus,
  RelayStatus,
  SessionStatus,
  Status,
} from '../../src/observe/status.ts';
import type { LogEntry } from '../../src/observe/log-ring.ts';
import type { DashboardSource } from '../../src/tui/source.ts';
import type { StatsQueryReply } from '../../src/protocol/index.ts';

/** 2024-01-01T00:00:00Z; wall-clock times in fixtures are relative to it. */
export const T0 = 1_704_067_200_000;

export function session(over: Partial<SessionStatus> = {}): SessionStatus {
  return {
    id: 'a1b2c3d4e5f60718',
    agent: 'alpha',
    agentKey: 'k:alpha',
    state: 'attached',
    since: T0,
    rttMs: 12.34,
    links: 2,
    resumes: 1,
    bytesSent: 10 * 1024,
    bytesReceived: 5 * 1024,
    replayBytes: 512,
    streams: [
      {
        id: 3,
        mapping: 'minecraft',
        visitor: '203.0.113.7:50123',
        bytesUp: 2048,
        bytesDown: 4096,
        ageMs: 65_000,
      },
      { id: 1, mapping: 'web', visitor: '198.51.100.2:40000', bytesUp: 100, bytesDown: 200, ageMs: 5_000 },
    ],
    reconnects: [
      { at: T0 + 1_000, event: 'attached' },
      { at: T0 + 60_000, event: 'detached', code: 'XNAT_ERR_LINK_KEEPALIVE', durationMs: 59_000 },
      { at: T0 + 62_000, event: 'attached', durationMs: 2_000 },
    ],
    rtt: { lastMs: 12.34, p50Ms: 11.5, p99Ms: 48.2, samples: 60, windowMs: 60_000 },
    ...over,
  };
}

export function flow(over: Partial<FlowStatus> = {}): FlowStatus {
  return {
    id: 4,
    mapping: 'valheim',
    visitor: '192.0.2.50:2456',
    packetsUp: 10,
    bytesUp: 1200,
    packetsDown: 12,
    bytesDown: 3400,
    drops: 0,
    ageMs: 30_000,
    idleMs: 100,
    ...over,
  };
}

export function mapping(over: Partial<MappingStatus> = {}): MappingStatus {
  return {
    name: 'minecraft',
    protocol: 'tcp',
    remotePort: 25565,
    publicAddress: '203.0.113.5:25565',
    phase: 'ready',
    agents: ['alpha'],
    activeStreams: 1,
    totalStreams: 9,
    traffic: { bytesUp: 2048, bytesDown: 4096 },
    ...over,
  };
}

export function logLine(seq: number, over: Partial<LogEntry> = {}): LogEntry {
  return { seq, time: T0 + seq * 1000, level: 'info', msg: `line ${seq}`, fields: '', ...over };
}

export function relayStatus(over: Partial<RelayStatus> = {}): RelayStatus {
  return {
    role: 'relay',
    version: '0.1.0',
    startedAt: T0,
    control: { address: '0.0.0.0', port: 7000 },
    sessions: [
      session(),
      session({
        id: 'ffee000011112222',
        agent: 'beta',
        agentKey: 'k:beta',
        state: 'detached',
        rttMs: undefined,
        resumes: 4,
        streams: [
          { id: 7, mapping: 'valheim', visitor: '192.0.2.99:2456', bytesUp: 1, bytesDown: 2, ageMs: 1_000 },
        ],
        reconnects: [{ at: T0 + 5_000, event: 'detached', code: 'XNAT_ERR_LINK_RESET' }],
      }),
    ],
    mappings: [
      mapping(),
      {
        name: 'web',
        protocol: 'tcp',
        remotePort: 0,
        phase: 'failed',
        error: {
          code: 'XNAT_ERR_MAPPING_BIND_FAILED',
          message: 'The relay could not listen on the public port.',
        },
        agents: ['alpha'],
        activeStreams: 0,
        totalStreams: 0,
      },
    ],
    ...over,
  };
}

export function agentStatus(over: Partial<AgentStatus> = {}): AgentStatus {
  return {
    role: 'agent',
    version: '0.1.0',
    name: 'home',
    startedAt: T0,
    relays: [
      { address: 'vps.example.net:7000', state: 'attached', session: session({ agent: 'home' }) },
      {
        address: '198.51.100.9:7000',
        state: 'connecting',
        session: undefined,
        lastError: { code: 'XNAT_ERR_LINK_CONNECT', message: 'The link could not connect to the relay.' },
      },
    ],
    mappings: [
      {
        name: 'minecraft',
        protocol: 'tcp',
        remotePort: 25565,
        local: '127.0.0.1:25565',
        phase: 'registering',
        activeStreams: 0,
        totalStreams: 3,
      },
      {
        name: 'valheim',
        protocol: 'udp',
        remotePort: 2456,
        publicAddress: 'vps.example.net:2456',
        local: '192.168.1.20:2456',
        phase: 'ready',
        activeStreams: 1,
        totalStreams: 2,
        activeFlows: 1,
        totalFlows: 2,
        traffic: { bytesUp: 1200, bytesDown: 3400, packetsUp: 10, packetsDown: 12 },
      },
    ],
    ...over,
  };
}

/** A DashboardSource driven by the test: push snapshots, fail status(), end the connection. */
export class FakeSource implements DashboardSource {
  listener: ((s: Status) => void) | undefined;
  intervalMs: number | undefined;
  readonly kicks: string[] = [];
  /** Actions asked for, as text: `close <session> <stream>`, `disable <name> <bool>`, `reload`. */
  readonly actions: string[] = [];
  /** Log lines served by logs(). */
  logLines: LogEntry[] = [];
  closed = false;
  /** When set, status() rejects (a dead connection without a close event). */
  dead = false;
  private closeListener: ((err?: Error) => void) | undefined;

  constructor(
    public current: Status,
    private readonly withOnClose = true,
  ) {
    if (withOnClose) {
      this.onClose = (l) => {
        this.closeListener = l;
      };
    }
  }

  onClose?: (listener: (err?: Error) => void) => void;

  status(): Promise<Status> {
    return this.dead
      ? Promise.reject(new XnatError('XNAT_ERR_COMMAND_CHANNEL_CLOSED'))
      : Promise.resolve(this.current);
  }

  subscribe(intervalMs: number, listener: (s: Status) => void): Promise<void> {
    this.intervalMs = intervalMs;
    this.listener = listener;
    // Like the admin endpoint: a first push right away.
    setImmediate(() => listener(this.current));
    return Promise.resolve();
  }

  kick(agentName: string): Promise<boolean> {
    this.kicks.push(agentName);
    return Promise.resolve(agentName === 'alpha');
  }

  closeStream(sessionId: string, streamId: number): Promise<boolean> {
    this.actions.push(`close ${sessionId} ${streamId}`);
    return Promise.resolve(true);
  }

  setMappingDisabled(name: string, disabled: boolean): Promise<number> {
    this.actions.push(`disable ${name} ${disabled}`);
    return Promise.resolve(1);
  }

  reload(): Promise<string[]> {
    this.actions.push('reload');
    return Promise.resolve(['agent gamma added']);
  }

  /** Answers of agentStats(), by agent name (its mappings' counters); the names asked, in order. */
  agentSide: Record<string, Record<string, Record<string, number>>> = {};
  readonly agentAsks: string[] = [];

  agentStats(agentName: string): Promise<StatsQueryReply> {
    this.agentAsks.push(agentName);
    const mappings = this.agentSide[agentName];
    return mappings
      ? Promise.resolve({ at: T0, session: {}, streams: {}, mappings })
      : Promise.reject(new XnatError('XNAT_ERR_COMMAND_NO_SESSION'));
  }

  logs(after: number): Promise<{ lines: LogEntry[]; lastSeq: number }> {
    const lines = this.logLines.filter((l) => l.seq > after);
    return Promise.resolve({ lines, lastSeq: this.logLines.at(-1)?.seq ?? 0 });
  }

  close(): void {
    this.closed = true;
  }

  push(s: Status): void {
    this.current = s;
    this.listener?.(s);
  }

  /** The connection ends by itself. */
  die(): void {
    this.dead = true;
    this.closeListener?.(new XnatError('XNAT_ERR_COMMAND_CHANNEL_CLOSED'));
  }
}

/** Polls `read` until `ok` holds or the deadline passes; returns the last value read. */
export async function waitFor<T>(read: () => T, ok: (v: T) => boolean, deadlineMs = 5_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = read();
    if (ok(v)) return v;
    if (Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A terminal of a given size for ink: frames written are kept; resize() emits what a real one does. */
export class SizedStdout extends EventEmitter {
  readonly frames: string[] = [];
  isTTY = true;
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (frame: string) => {
    this.frames.push(frame);
    return true;
  };
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

/** Renders `app` on a columns x rows fake terminal; frame() is the last frame without colours. */
export function renderSized(app: ReactElement, columns: number, rows: number) {
  const stdout = new SizedStdout(columns, rows);
  let pending: string | null = null;
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    setRawMode() {},
    setEncoding() {},
    resume() {},
    pause() {},
    ref() {},
    unref() {},
    read: () => {
      const d = pending;
      pending = null;
      return d;
    },
  });
  /** Types `data` as keys (ink reads stdin on 'readable'). */
  const type = (data: string) => {
    pending = data;
    stdin.emit('readable');
    stdin.emit('data', data);
  };
  const instance = inkRender(app, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  // eslint-disable-next-line no-control-regex
  const frame = () => (stdout.frames.at(-1) ?? '').replace(/\u001b\[[0-9;]*m/g, '');
  return { stdout, instance, frame, type };
}
