// Per-command and per-endpoint counters of the command framework, snapshotted as plain objects.
// It knows nothing of messages; the endpoint calls the record functions.

/** Counters of one command name, on one endpoint. Latencies in milliseconds. */
export interface CommandCounters {
  /** Calls this side made (requests, one-ways, buffers, streams). */
  callsOut: number;
  /** Outgoing calls that ended in an error (including timeouts and aborts). */
  errorsOut: number;
  /** Invocations the peer made that reached this side's handler table. */
  callsIn: number;
  /** Incoming invocations answered with an error (refused, invalid, handler failure). */
  errorsIn: number;
  /** Message bytes received that belong to this command. */
  bytesIn: number;
  /** Message bytes sent that belong to this command. */
  bytesOut: number;
  /** Sum, maximum and count of outgoing call latency (send to answer). */
  latencyMsSum: number;
  latencyMsMax: number;
  latencyCount: number;
}

/** Endpoint-wide counters and gauges plus per-command counters; a plain, JSON-safe object. */
export interface CommandStats {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Outgoing calls waiting for an answer. */
  pendingOut: number;
  /** Incoming invocations running / waiting for a slot. */
  running: number;
  queued: number;
  /** Incoming invocations refused with XNAT_ERR_COMMAND_BUSY (or one-ways dropped for the same reason). */
  busy: number;
  /** Messages that failed to decode (malformed, too large, too deep). */
  malformed: number;
  /** Answers (REPLY/ERROR/CREDIT) for ids with no pending call: late or bogus; ignored. */
  unknownAnswers: number;
  /** Transfer messages or cancels for ids with no incoming invocation; ignored. */
  unknownIds: number;
  /** Invocations of names this side does not handle. */
  unknownCommands: number;
  /** Refusals (BUSY, unknown, invalid) not sent because the channel pushed back: the peer flooded us. */
  refusalsDropped: number;
  /** Per command name (only names this side called or handles; unknown peer names are not kept). */
  commands: Record<string, CommandCounters>;
}

const zero = (): CommandCounters => ({
  callsOut: 0,
  errorsOut: 0,
  callsIn: 0,
  errorsIn: 0,
  bytesIn: 0,
  bytesOut: 0,
  latencyMsSum: 0,
  latencyMsMax: 0,
  latencyCount: 0,
});

/** Mutable counters behind CommandEndpoint.snapshot(). */
export class StatsRecorder {
  readonly totals = {
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    busy: 0,
    malformed: 0,
    unknownAnswers: 0,
    unknownIds: 0,
    unknownCommands: 0,
    refusalsDropped: 0,
  };
  private readonly perCommand = new Map<string, CommandCounters>();

  of(name: string): CommandCounters {
    let c = this.perCommand.get(name);
    if (!c) {
      c = zero();
      this.perCommand.set(name, c);
    }
    return c;
  }

  latency(name: string, ms: number): void {
    const c = this.of(name);
    c.latencyMsSum += ms;
    c.latencyCount++;
    if (ms > c.latencyMsMax) c.latencyMsMax = ms;
  }

  snapshot(gauges: { pendingOut: number; running: number; queued: number }): CommandStats {
    const commands: Record<string, CommandCounters> = {};
    for (const [name, c] of this.perCommand) commands[name] = { ...c };
    return { ...this.totals, ...gauges, commands };
  }
}
