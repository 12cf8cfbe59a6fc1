// `xnat relay` and `xnat agent`: load a profile, start the role through the public API (src/api/, as an
// embedder would) with its admin and metrics endpoints, re-read the profile on SIGHUP, and shut down
// cleanly on SIGINT/SIGTERM. A listener that cannot be opened ends the process with its code.
import type { Command } from 'commander';
import { loadAgentProfile, loadRelayProfile, type AgentProfile, type RelayProfile } from '../config/index.ts';
import { createRootLogger, loadPrettyLogs, type Logger } from '../observe/log.ts';
import { createAgent, createRelay, type XnatAgent, type XnatRelay } from '../api/index.ts';
import { startAdminServer, type AdminActions } from '../admin/admin-server.ts';
import { toXnatError, XnatError } from '../errors.ts';
import { LogRing } from '../observe/log-ring.ts';
import { bundleSource } from '../protocol/diag-bundle.ts';
import { releaseStartupFlags } from './startup-flags.ts';

/** A running role with its endpoints; close() stops everything. */
export interface Running {
  readonly logger: Logger;
  /** The admin endpoint's real port, when the profile has an admin block. */
  readonly adminPort: number | undefined;
  close(): Promise<void>;
}

/** Opens the admin and metrics endpoints; if one fails, the one already open is closed and the error thrown. */
async function startEndpoints(
  profile: RelayProfile | AgentProfile,
  actions: AdminActions,
  logger: Logger,
): Promise<{ closers: Array<() => Promise<void>>; adminPort: number | undefined }> {
  const closers: Array<() => Promise<void>> = [];
  let adminPort: number | undefined;
  try {
    if (profile.admin) {
      const admin = await startAdminServer({
        listen: profile.admin.listen,
        token: profile.admin.token,
        actions,
        logger,
      });
      adminPort = admin.port;
      closers.push(() => admin.close());
    }
    if (profile.metrics) {
      // prom-client loads only for a profile with a metrics block (start-up: issue 10).
      const { startMetricsServer } = await import('../admin/metrics.ts');
      const metrics = await startMetricsServer(profile.metrics.listen, () => actions.status(), logger);
      closers.push(() => metrics.close());
    }
  } catch (err) {
    await Promise.all(closers.map((c) => c()));
    throw err;
  }
  return { closers, adminPort };
}

export async function startRelay(
  profile: RelayProfile,
  logger: Logger,
  profilePath?: string,
  logs?: LogRing,
): Promise<Running & { relay: XnatRelay }> {
  const relay = createRelay({ profile, logger, ...(logs ? { logs } : {}) });
  await relay.start();
  let endpoints;
  try {
    endpoints = await startEndpoints(
      profile,
      {
        status: () => relay.status(),
        kick: (n) => relay.kick(n),
        agentStats: (n) => relay.agentStats(n),
        diag: async (agent, maxBytes) =>
          agent === undefined ? bundleSource(relay.diagBundle(maxBytes)) : relay.agentDiag(agent, maxBytes),
        closeStream: (sessionId, streamId) => relay.closeStream(sessionId, streamId),
        setMappingDisabled: (name, disabled) => relay.setMappingDisabled(name, disabled),
        ...(logs ? { logs } : {}),
        ...(profilePath ? { reload: () => relay.reload(loadRelayProfile(profilePath)) } : {}),
      },
      logger,
    );
  } catch (err) {
    // The control port is open already: close it, or the relay would run on without its endpoints.
    await relay.close();
    throw err;
  }
  const { closers, adminPort } = endpoints;
  return {
    relay,
    logger,
    adminPort,
    close: async () => {
      await Promise.all(closers.map((c) => c()));
      await relay.close();
    },
  };
}

export async function startAgent(
  profile: AgentProfile,
  logger: Logger,
  profilePath?: string,
  logs?: LogRing,
): Promise<Running & { agent: XnatAgent }> {
  const agent = createAgent({ profile, logger, ...(logs ? { logs } : {}) });
  // Endpoints first: an agent whose admin port is taken must not register its mappings and then vanish.
  const { closers, adminPort } = await startEndpoints(
    profile,
    {
      status: () => agent.status(),
      closeStream: (sessionId, streamId) => agent.closeStream(sessionId, streamId),
      diag: async (name, maxBytes) => {
        if (name !== undefined)
          throw new XnatError('XNAT_ERR_CLI_USAGE', {
            detail: '--agent is for a relay; an agent sends its own',
          });
        return bundleSource(agent.diagBundle(maxBytes));
      },
      ...(logs ? { logs } : {}),
      ...(profilePath ? { reload: () => agent.reload(loadAgentProfile(profilePath)) } : {}),
    },
    logger,
  );
  // Reverse mode's listen sockets, like the endpoints: a taken port ends the start, not a retry loop.
  try {
    await agent.listen();
  } catch (err) {
    await Promise.all(closers.map((c) => c()));
    await agent.close();
    throw err;
  }
  agent.start();
  return {
    agent,
    logger,
    adminPort,
    close: async () => {
      await Promise.all(closers.map((c) => c()));
      await agent.close();
    },
  };
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
export function untilSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    // xnat's timers are unref'd (realClock): an agent waiting to redial holds no handle, and without this
    // the process would exit (code 13, unsettled top-level await) while its relay is down.
    const keepAlive = setInterval(() => {}, 1 << 30);
    const onSignal = (signal: NodeJS.Signals) => {
      clearInterval(keepAlive);
      logger.info({ signal }, 'stopping');
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

/**
 * SIGHUP re-reads the profile, as daemons do; a broken profile is logged and changes nothing. The
 * handler is installed before anything listens, so an early SIGHUP never kills the process.
 */
function reloadOnHangup(logger: Logger, reload: () => unknown): void {
  process.on('SIGHUP', () => {
    void (async () => {
      try {
        await reload();
      } catch (err) {
        const e = toXnatError(err);
        logger.error({ code: e.code, detail: e.detail }, 'reload failed');
      }
    })();
  });
}

/** One warning line per profile warning (a secret-holding file other users may read). */
function logWarnings(logger: Logger, profile: RelayProfile | AgentProfile): void {
  for (const warning of profile.warnings ?? []) logger.warn({ warning }, 'profile warning');
}

/**
 * A start that failed (a port taken) ends the process: main reports the error and sets the exit code;
 * this makes sure no leftover handle keeps it running meanwhile.
 */
function exitSoon(): void {
  setTimeout(() => process.exit(), 2_000).unref();
}

/** Gives pino's async destination a moment to flush, then exits with `code`. */
function exitAfterFlush(logger: Logger, code: number): void {
  logger.flush(() => process.exit(code));
  setTimeout(() => process.exit(code), 500).unref();
}

export function addServeCommands(program: Command): void {
  program
    .command('relay')
    .description('run a relay (public side) from its profile')
    .requiredOption('-p, --profile <file>', 'relay profile (YAML)')
    .option('--log-level <level>', 'trace, debug, info, warn, error (overrides the profile)')
    .action(async (opts: { profile: string; logLevel?: string }) => {
      const profile = loadRelayProfile(opts.profile);
      const ring = new LogRing();
      await loadPrettyLogs();
      const logger = createRootLogger({
        level: opts.logLevel ?? profile.log.level,
        base: { role: 'relay' },
        ring,
      });
      logWarnings(logger, profile);
      // Until it runs, a SIGHUP has nothing to reload (and must not kill the process).
      const live: { reload?: () => unknown } = {};
      reloadOnHangup(logger, () => live.reload?.());
      const running = await startRelay(profile, logger, opts.profile, ring).catch((err: unknown) => {
        exitSoon();
        throw err;
      });
      live.reload = () => running.relay.reload(loadRelayProfile(opts.profile));
      releaseStartupFlags();
      await untilSignal(logger);
      await running.close();
      exitAfterFlush(logger, 0);
    });
  program
    .command('agent')
    .description('run an agent (private side) from its profile')
    .requiredOption('-p, --profile <file>', 'agent profile (YAML)')
    .option('--log-level <level>', 'trace, debug, info, warn, error (overrides the profile)')
    .action(async (opts: { profile: string; logLevel?: string }) => {
      const profile = loadAgentProfile(opts.profile);
      const ring = new LogRing();
      await loadPrettyLogs();
      const logger = createRootLogger({
        level: opts.logLevel ?? profile.log.level,
        base: { role: 'agent' },
        ring,
      });
      logWarnings(logger, profile);
      // Until it runs, a SIGHUP has nothing to reload (and must not kill the process).
      const live: { reload?: () => unknown } = {};
      reloadOnHangup(logger, () => live.reload?.());
      const running = await startAgent(profile, logger, opts.profile, ring).catch((err: unknown) => {
        exitSoon();
        throw err;
      });
      live.reload = () => running.agent.reload(loadAgentProfile(opts.profile));
      releaseStartupFlags();
      await untilSignal(logger);
      await running.close();
      exitAfterFlush(logger, 0);
    });
}
