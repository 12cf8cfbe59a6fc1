// An EventEmitter whose event names and payloads are checked by TypeScript (the XnatEvents map).
// It knows nothing of where events come from.
import { EventEmitter } from 'node:events';
import type { XnatEventName, XnatEvents } from '../observe/events.ts';

/** on/once/off/emit typed by the XnatEvents map; otherwise a plain EventEmitter. */
export class XnatEmitter extends EventEmitter {
  override on<K extends XnatEventName>(name: K, listener: (event: XnatEvents[K]) => void): this {
    return super.on(name, listener);
  }
  override once<K extends XnatEventName>(name: K, listener: (event: XnatEvents[K]) => void): this {
    return super.once(name, listener);
  }
  override off<K extends XnatEventName>(name: K, listener: (event: XnatEvents[K]) => void): this {
    return super.off(name, listener);
  }
  override emit<K extends XnatEventName>(name: K, event: XnatEvents[K]): boolean {
    return super.emit(name, event);
  }
}
