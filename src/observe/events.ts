// The lifecycle events relay and agent report to an embedder (src/api/): sessions, mappings, streams, flows.
// Plain data, no handles; it knows nothing of who listens (the API turns them into typed EventEmitter events).

/** Which side of a session reports, and whom it is with: the agent's name, and on the agent the relay's address. */
export interface EventPeer {
  readonly agent: string;
  /** The relay's host:port; agent side only. */
  readonly relay?: string;
  /** The session id, hex. */
  readonly session: string;
}

export interface SessionEvent extends EventPeer {
  /** Links this session has resumed on so far (0 for the first attach). */
  readonly resumes: number;
  /** The error code that ended the link or session, where one did. */
  readonly code?: string;
}

export interface MappingEvent {
  readonly agent: string;
  readonly relay?: string;
  readonly mapping: string;
  readonly protocol: 'tcp' | 'udp';
  readonly remotePort: number;
}

export interface StreamEvent {
  readonly mapping: string;
  /** The stream id within its session. */
  readonly stream: number;
  /** The visitor's address:port. */
  readonly visitor: string;
}

export interface StreamClosedEvent extends StreamEvent {
  /** True when both directions ended with FIN; false for a reset (then `code` says why). */
  readonly clean: boolean;
  readonly code?: string;
}

export interface FlowEvent {
  readonly mapping: string;
  readonly flow: number;
  readonly visitor: string;
}

export interface FlowClosedEvent extends FlowEvent {
  /** idle, evicted, closed by the peer, or the session ended. */
  readonly reason: string;
}

/** Event name -> payload. */
export interface XnatEvents {
  'session.attached': SessionEvent;
  'session.detached': SessionEvent;
  'session.resumed': SessionEvent;
  'session.closed': SessionEvent;
  'mapping.ready': MappingEvent;
  'mapping.failed': MappingEvent & { readonly code: string };
  'stream.opened': StreamEvent;
  'stream.closed': StreamClosedEvent;
  'flow.opened': FlowEvent;
  'flow.closed': FlowClosedEvent;
}

export type XnatEventName = keyof XnatEvents;

/** Where relay and agent report events; a no-op when nobody embeds them. */
export type EventSink = <K extends XnatEventName>(name: K, event: XnatEvents[K]) => void;

/** The sink used when no embedder listens. */
export const noEvents: EventSink = () => undefined;
