// The actions on the dashboard's selection: kick a session, close a connection, disable or enable a
// mapping, reload the profile. Each asks a y/n question first and resolves to the line the status line
// shows. It knows nothing of keys or rendering; App calls these and shows what they say.
import type { Status } from '../observe/status.ts';
import type { DashboardController } from './controller.ts';
import type { SessionRow } from './view-model.ts';
import type { ConnectionRow } from './view-rows.ts';
import { shortCode } from './format.ts';

/** A question waiting for y/n, and what y runs (resolving to the result line). */
export interface Confirm {
  readonly question: string;
  readonly run: () => Promise<{ text: string; color: string }>;
}

export interface ActionContext {
  readonly controller: DashboardController;
  readonly role: Status['role'] | undefined;
  readonly session: SessionRow | undefined;
  readonly mapping: Status['mappings'][number] | undefined;
  readonly connection: ConnectionRow | undefined;
  /** Shows a line on the status line now (a refusal needs no question). */
  readonly show: (text: string, color: string) => void;
  /** Asks `question`; y runs `run`. */
  readonly ask: (question: string, run: Confirm['run']) => void;
}

const errorLine = (what: string) => (err: unknown) => ({
  text: `${what} failed: ${shortCode((err as { code?: string }).code ?? 'XNAT_ERR_INTERNAL')}`,
  color: 'red',
});

export function selectionActions(ctx: ActionContext) {
  const kick = () => {
    if (ctx.role !== 'relay') return ctx.show('kick works on a relay dashboard only', 'yellow');
    const agent = ctx.session?.kickable;
    if (!agent) return ctx.show('no session selected', 'yellow');
    ctx.ask(`Kick agent ${agent}? Its session and streams end; the agent starts a new one.`, () =>
      ctx.controller.kick(agent).then(
        (kicked) => ({
          text: kicked ? `kicked ${agent}` : `${agent} had no session to kick`,
          color: kicked ? 'green' : 'yellow',
        }),
        errorLine('kick'),
      ),
    );
  };

  const close = () => {
    const c = ctx.connection;
    if (!c) return ctx.show('no connection selected (tab to Connections)', 'yellow');
    if (c.kind === 'udp')
      return ctx.show('a UDP flow ends by its idle timeout; close works on tcp connections', 'yellow');
    ctx.ask(`Close connection ${c.id} of ${c.mapping} from ${c.visitor}? The visitor sees a reset.`, () =>
      ctx.controller
        .act((s) => s.closeStream?.(c.sessionId, c.id))
        .then(
          (closed) => ({
            text: closed ? `closed connection ${c.id} (${c.visitor})` : `connection ${c.id} was already gone`,
            color: closed ? 'green' : 'yellow',
          }),
          errorLine('close'),
        ),
    );
  };

  const toggle = () => {
    if (ctx.role !== 'relay') return ctx.show('mappings are disabled on the relay dashboard', 'yellow');
    const m = ctx.mapping;
    if (!m) return ctx.show('no mapping selected', 'yellow');
    const disable = !m.disabled;
    ctx.ask(
      disable
        ? `Disable mapping ${m.name}? New visitors are refused; open connections stay.`
        : `Enable mapping ${m.name} again?`,
      () =>
        ctx.controller
          .act((s) => s.setMappingDisabled?.(m.name, disable))
          .then(
            (n) => ({
              text: n > 0 ? `${disable ? 'disabled' : 'enabled'} ${m.name}` : `${m.name} is gone`,
              color: n > 0 ? 'green' : 'yellow',
            }),
            errorLine(disable ? 'disable' : 'enable'),
          ),
    );
  };

  const reload = () => {
    if (!ctx.role) return ctx.show('no snapshot yet', 'yellow');
    ctx.ask(`Reload the ${ctx.role} profile from its file?`, () =>
      ctx.controller
        .act((s) => s.reload?.())
        .then(
          (changes) => ({
            text:
              changes.length === 0
                ? 'profile reloaded: no change'
                : `profile reloaded: ${changes.join('; ')}`,
            color: 'green',
          }),
          errorLine('reload'),
        ),
    );
  };

  return { kick, close, toggle, reload };
}
