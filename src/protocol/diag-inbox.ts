// The receiving end of a pulled diagnostic bundle: the asker picks a transfer id, asks (diag.fetch or
// admin.diag), and the peer pushes the bundle as a stream transfer with that id. The inbox matches the
// two, refuses transfers nobody asked for or larger than asked, and hands the bytes on as a Readable.
// It knows nothing of sessions, admin sockets or files.
import type { Readable } from 'node:stream';
import type { CommandRegistry, StreamContext } from '../command/registry.ts';
import { XnatError } from '../errors.ts';
import type { CommandSpec } from './catalogue.ts';

/** How long an asked-for bundle may take to begin arriving, in ms (the peer builds it first). */
export const DIAG_BEGIN_TIMEOUT_MS = 30_000;

/** A bundle on its way in: its declared size and its bytes, as they arrive (with the transfer's backpressure). */
export interface IncomingBundle {
  readonly size: number;
  readonly source: Readable;
}

interface Waiter {
  readonly maxBytes: number;
  readonly resolve: (b: IncomingBundle) => void;
  readonly reject: (err: XnatError) => void;
}

/** One expected bundle: its id (to send with the ask) and the promise of its arrival. */
export interface Expectation {
  readonly transferId: number;
  readonly arrived: Promise<IncomingBundle>;
  /** Gives up waiting (the ask failed): `arrived` rejects with `err`; a late transfer is refused. */
  fail(err: XnatError): void;
}

export class DiagInbox {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();

  /** Expects one bundle of at most `maxBytes`; `arrived` rejects with XNAT_ERR_TIMEOUT after `timeoutMs`. */
  expect(maxBytes: number, timeoutMs = DIAG_BEGIN_TIMEOUT_MS): Expectation {
    const transferId = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    let fail!: (err: XnatError) => void;
    const arrived = new Promise<IncomingBundle>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          fail(new XnatError('XNAT_ERR_TIMEOUT', { detail: `no diagnostic bundle after ${timeoutMs} ms` })),
        timeoutMs,
      );
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(transferId);
      };
      fail = (err) => {
        done();
        reject(err);
      };
      this.waiting.set(transferId, {
        maxBytes,
        resolve: (b) => {
          done();
          resolve(b);
        },
        reject: fail,
      });
    });
    // A caller that gave up (fail) may never look at `arrived` again.
    arrived.catch(() => undefined);
    return { transferId, arrived, fail: (err) => this.waiting.get(transferId)?.reject(err) };
  }

  /** Bundles still expected (bounded by the callers: one per diag in flight). */
  get pending(): number {
    return this.waiting.size;
  }

  /** Fails every expectation (the session or admin connection ended). */
  closeAll(err: XnatError): void {
    for (const w of [...this.waiting.values()]) w.reject(err);
  }

  /**
   * Registers the stream command `spec` (diag.bundle or admin.diagBundle). Its handler holds the transfer
   * until the consumer read it all (returning earlier would drain it), and a consumer that destroys the
   * Readable cancels the sender's transfer.
   */
  register(registry: CommandRegistry, spec: CommandSpec): void {
    registry.register(spec.name, {
      kind: 'stream',
      schema: spec.request,
      handler: (source: Readable, meta: unknown, ctx: StreamContext) => {
        // The spec's schema checked the meta: { transferId }.
        const { transferId } = meta as { transferId: number };
        const w = this.waiting.get(transferId);
        if (!w) throw new XnatError('XNAT_ERR_DIAG_UNEXPECTED', { detail: `transfer ${transferId}` });
        if (ctx.size === undefined || ctx.size > w.maxBytes) {
          const err = new XnatError('XNAT_ERR_DIAG_TOO_LARGE', {
            detail: ctx.size === undefined ? 'no size' : `${ctx.size} > ${w.maxBytes} bytes`,
          });
          w.reject(err);
          throw err;
        }
        const size = ctx.size;
        return new Promise<{ received: number }>((resolve, reject) => {
          source.once('end', () => resolve({ received: size }));
          source.once('error', reject);
          source.once('close', () =>
            reject(new XnatError('XNAT_ERR_ABORTED', { detail: 'bundle consumer gone' })),
          );
          w.resolve({ size, source });
        });
      },
    });
  }
}

/** A pulled bundle: its bytes as they arrive, and `done`, which settles when the ask's reply came back. */
export interface PulledBundle extends IncomingBundle {
  /** Resolves once the peer confirmed the end; rejects with the peer's error (the reason a transfer stopped). */
  readonly done: Promise<void>;
}

/**
 * Asks for one bundle: `ask(transferId)` sends the request (diag.fetch or admin.diag) whose reply follows the
 * transfer's end. Resolves when the bundle begins to arrive; rejects with the ask's error if it fails first.
 */
export async function pullBundle(
  inbox: DiagInbox,
  maxBytes: number,
  ask: (transferId: number) => Promise<unknown>,
): Promise<PulledBundle> {
  const exp = inbox.expect(maxBytes);
  const done = ask(exp.transferId).then(
    () => undefined,
    (err: unknown) => {
      const e = err instanceof XnatError ? err : new XnatError('XNAT_ERR_INTERNAL', { cause: err });
      exp.fail(e);
      throw e;
    },
  );
  // Handled here so that a failure after the bundle arrived is never unhandled; callers still see it.
  done.catch(() => undefined);
  const bundle = await exp.arrived;
  return { ...bundle, done };
}
