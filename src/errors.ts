// The one catalogue of xnat's typed errors: stable codes, one-sentence messages, hints, exit codes.
// It knows nothing of where errors are raised; docs/errors.md is generated from it (npm run docs:errors).

/** CLI exit codes, grouped by what the user should look at. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  CONFIG: 3,
  AUTH: 4,
  NETWORK: 5,
  PROTOCOL: 6,
  INTERNAL: 70,
} as const;

/** One catalogue entry. `message` is one sentence with no secret and no variable part. */
export interface ErrorSpec {
  readonly message: string;
  readonly hint: string;
  /** True when the same operation may succeed later without a change by the user. */
  readonly retryable: boolean;
  readonly exitCode: number;
}

const spec = (message: string, hint: string, retryable: boolean, exitCode: number): ErrorSpec => ({
  message,
  hint,
  retryable,
  exitCode,
});

// Areas keep their codes together; add new codes at the end of their area and run `npm run docs:errors`.
export const ERRORS = {
  // ---- INTERNAL / generic
  XNAT_ERR_INTERNAL: spec(
    'An internal error occurred.',
    'This is a bug; please report it with the log lines around it.',
    false,
    EXIT.INTERNAL,
  ),
  XNAT_ERR_CLOSED: spec(
    'The object was already closed.',
    'Do not use a connection, link or session after close().',
    false,
    EXIT.FAILURE,
  ),
  XNAT_ERR_ABORTED: spec(
    'The operation was aborted.',
    'The caller cancelled it; nothing to fix.',
    true,
    EXIT.FAILURE,
  ),
  XNAT_ERR_TIMEOUT: spec(
    'The operation timed out.',
    'Check that the peer is reachable and not overloaded.',
    true,
    EXIT.NETWORK,
  ),

  // ---- CLI
  XNAT_ERR_CLI_USAGE: spec(
    'The command line is invalid.',
    'Run the command with --help to see its options.',
    false,
    EXIT.USAGE,
  ),

  // ---- CONFIG (profiles, keys text)
  XNAT_ERR_CONFIG_READ: spec(
    'The profile file cannot be read.',
    'Check the path and its permissions.',
    false,
    EXIT.CONFIG,
  ),
  XNAT_ERR_CONFIG_YAML: spec(
    'The profile is not valid YAML.',
    'Fix the syntax at the line given.',
    false,
    EXIT.CONFIG,
  ),
  XNAT_ERR_CONFIG_INVALID: spec(
    'The profile does not match the schema.',
    'Fix the key named in the error; see docs/profiles.md.',
    false,
    EXIT.CONFIG,
  ),
  XNAT_ERR_CONFIG_KEY_TEXT: spec(
    'The key text is not a base64 X25519 key of 32 bytes.',
    'Generate keys with `xnat keygen` and paste them whole.',
    false,
    EXIT.CONFIG,
  ),
  XNAT_ERR_CONFIG_NOT_FILE: spec(
    'The profile, or a file it names, is not a regular file.',
    'Point at the file itself, not a directory, device, FIFO or socket.',
    false,
    EXIT.CONFIG,
  ),
  XNAT_ERR_CONFIG_TOO_LARGE: spec(
    'The profile, or a file it names, is larger than its cap.',
    'A profile is at most 1 MiB and a privateKeyFile at most 4 KiB; check that the path names the right file.',
    false,
    EXIT.CONFIG,
  ),

  // ---- WIRE (frame codec)
  XNAT_ERR_WIRE_BAD_TYPE: spec(
    'A frame has an unknown type.',
    'The peer speaks another protocol version or sent garbage.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_WIRE_OVERSIZE: spec(
    'A frame length exceeds the maximum frame size.',
    'The peer is broken or hostile; the link is closed.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_WIRE_TRUNCATED: spec(
    'A frame is shorter than its fields require.',
    'The peer is broken or hostile; the link is closed.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_WIRE_BAD_FIELD: spec(
    'A frame field has an invalid value.',
    'The peer is broken or hostile; the link is closed.',
    false,
    EXIT.PROTOCOL,
  ),

  // ---- CRYPTO (Noise, ciphers, keys)
  XNAT_ERR_CRYPTO_DECRYPT: spec(
    'A record failed authentication and was rejected.',
    'The link was tampered with or corrupted; it is closed and the session resumes on a new link.',
    true,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_CRYPTO_NONCE_EXHAUSTED: spec(
    'A cipher nonce reached its limit.',
    'The link must rekey or be replaced; this is handled automatically.',
    true,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_CRYPTO_BACKEND: spec(
    'The requested cipher backend is not available.',
    'Use tuning.cipherBackend "auto", "node" or "noble".',
    false,
    EXIT.CONFIG,
  ),
  XNAT_ERR_CRYPTO_HANDSHAKE_STATE: spec(
    'A Noise handshake step was called out of order.',
    'This is a bug in the caller of the handshake.',
    false,
    EXIT.INTERNAL,
  ),
  XNAT_ERR_CRYPTO_MESSAGE_SIZE: spec(
    'A Noise message exceeds 65535 bytes.',
    'Split the payload into smaller records.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_CRYPTO_PROTOCOL_NAME: spec(
    'The Noise protocol name is not supported.',
    'Use a name like Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (25519, ChaChaPoly or AESGCM, BLAKE2s or SHA256).',
    false,
    EXIT.INTERNAL,
  ),
  XNAT_ERR_CRYPTO_HANDSHAKE_KEYS: spec(
    'The Noise handshake lacks a key its pattern requires.',
    'This is a bug in the caller of the handshake: pass s, rs or psks as the pattern needs.',
    false,
    EXIT.INTERNAL,
  ),
  XNAT_ERR_CRYPTO_DH: spec(
    'A Diffie-Hellman exchange failed on an invalid public key.',
    'The peer sent a low-order or malformed X25519 key; the link is closed.',
    false,
    EXIT.PROTOCOL,
  ),

  // ---- AUTH (who may connect)
  XNAT_ERR_AUTH_UNKNOWN_AGENT: spec(
    'The relay does not know this agent key.',
    'Add the agent public key to the relay profile (agents[].publicKey).',
    false,
    EXIT.AUTH,
  ),
  XNAT_ERR_AUTH_WRONG_AGENT: spec(
    'The agent the relay dialed proved another key than the one its entry names.',
    'Check agents[].dial and agents[].publicKey in the relay profile: the address serves another agent.',
    false,
    EXIT.AUTH,
  ),
  XNAT_ERR_AUTH_RELAY_KEY: spec(
    'The handshake failed: the agent does not hold this relay public key.',
    'Check relays[].publicKey in the agent profile against the relay key.',
    false,
    EXIT.AUTH,
  ),
  XNAT_ERR_AUTH_PSK: spec(
    'The handshake failed: the pre-shared keys differ.',
    'Set the same psk for this agent in both profiles, or none in both.',
    false,
    EXIT.AUTH,
  ),

  // ---- LINK (transport + handshake + record layer)
  XNAT_ERR_LINK_PREFACE: spec(
    'The peer did not start with the xnat preface.',
    'Something other than an xnat agent connected to the control port.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_LINK_VERSION: spec(
    'The peer speaks another version of the link protocol.',
    'Run the same xnat release on relay and agent; the detail names both versions.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_LINK_HANDSHAKE_TIMEOUT: spec(
    'The handshake did not finish before its deadline.',
    'Check the network path between agent and relay.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_LINK_HANDSHAKE_MALFORMED: spec(
    'A handshake message is malformed.',
    'The peer is not an xnat peer of this protocol version.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_LINK_HANDSHAKE_BUSY: spec(
    'Too many handshakes are in progress.',
    'The relay is under load or attack; the agent retries.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_LINK_RECORD_MALFORMED: spec(
    'A record is malformed.',
    'The peer is broken or hostile; the link is closed.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_LINK_KEEPALIVE: spec(
    'The link missed its keepalive deadline.',
    'The network path dropped; the agent redials.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_LINK_RESET: spec(
    'The link was reset by the network or the peer.',
    'The agent redials; live streams resume.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_LINK_CONNECT: spec(
    'The link could not connect to the relay (in reverse mode: the relay could not connect to the agent).',
    "Check the address (relays[].address, or the relay profile's agents[].dial) and that the other side runs.",
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_LINK_CLOSED_BY_PEER: spec(
    'The peer closed the link.',
    'See the reason given in the log line.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_LINK_LISTEN: spec(
    "The link port could not be bound (the relay's control port, or a reverse-mode agent's listen port).",
    'Another program may hold the port, or it needs privileges; see the detail.',
    false,
    EXIT.NETWORK,
  ),
  XNAT_ERR_LINK_SUITE_REFUSED: spec(
    'The relay does not accept the cipher suite the agent proposed.',
    "Set the agent's tuning.cipher to auto or to a suite in the relay's relay.cipherSuites.",
    false,
    EXIT.CONFIG,
  ),
  XNAT_ERR_LINK_SUITE_TAMPERED: spec(
    'The cipher suite in the link preface was altered on the way to the relay.',
    'Something on the path rewrites traffic; the link was refused instead of downgraded.',
    true,
    EXIT.PROTOCOL,
  ),
  // ---- FORWARD (visitor and LAN sockets joined to streams)
  XNAT_ERR_FORWARD_COMPRESS: spec(
    'The compressed data of a stream could not be decompressed.',
    'Both ends of a compress: deflate mapping must run a version that compresses; a bug or tampering otherwise.',
    false,
    EXIT.NETWORK,
  ),
  XNAT_ERR_FORWARD_IDLE_TIMEOUT: spec(
    'A visitor connection sent and received nothing for its mapping idle timeout.',
    'Raise mappings[].idleTimeout in the agent profile for services with long silent connections.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_FORWARD_SOCKET_RESET: spec(
    'A forwarded TCP connection was reset or failed.',
    'The visitor or the LAN service aborted the connection; the other side is reset too.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_FORWARD_STREAM_RESET: spec(
    'The tunnel stream was aborted.',
    'See the log line before it for the cause; the socket was reset, not closed.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_FORWARD_TARGET_REFUSED: spec(
    'The LAN target refused the connection.',
    'Start the LAN service or fix mappings[].local in the agent profile.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_FORWARD_TARGET_UNREACHABLE: spec(
    'The LAN target cannot be reached.',
    'Check mappings[].local and the network between the agent and the service.',
    true,
    EXIT.NETWORK,
  ),

  // ---- MAPPING (public ports on the relay)
  XNAT_ERR_MAPPING_NOT_ALLOWED: spec(
    'The mapping is outside the agent allow list.',
    'Add the port to agents[].allow in the relay profile or change remotePort.',
    false,
    EXIT.AUTH,
  ),
  XNAT_ERR_MAPPING_IN_USE: spec(
    'The public port is already used by another mapping.',
    'Choose another remotePort, or stop the mapping that holds it.',
    true,
    EXIT.CONFIG,
  ),
  XNAT_ERR_MAPPING_BIND_FAILED: spec(
    'The relay could not listen on the public port.',
    'Another program holds the port (EADDRINUSE in the detail: find it with `ss -ltnup`), or it needs privileges (EACCES).',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_MAPPING_NO_FREE_PORT: spec(
    'No free port is left in the allowed range.',
    'Widen the allow range in the relay profile or free ports.',
    true,
    EXIT.CONFIG,
  ),
  XNAT_ERR_MAPPING_UNKNOWN: spec(
    'The stream names a mapping this side does not have.',
    'Relay and agent profiles disagree; restart the agent after changing mappings.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_MAPPING_SHARE_FULL: spec(
    'The mapping holds its whole share of the session stream cap.',
    'Other mappings of the agent keep their share; raise tuning.maxStreams or find who holds the connections.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_MAPPING_NO_AGENT: spec(
    'No agent session serves this mapping right now.',
    'Start the agent; visitors are accepted again once it registers.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_MAPPING_NO_HANDLER: spec(
    'The mapping names an in-process handler that the embedding application did not register.',
    'Call agent.serve(name, ...) for every handler: of the profile before visitors arrive.',
    true,
    EXIT.CONFIG,
  ),
  XNAT_ERR_MAPPING_DISABLED: spec(
    'An operator disabled this mapping; new visitors are refused.',
    'Enable it again from the dashboard (d on the mapping) or restart the relay.',
    true,
    EXIT.NETWORK,
  ),

  // ---- SESSION (seq/ack/replay, resume, expiry, takeover)
  XNAT_ERR_SESSION_EXPIRED: spec(
    'The session expired after its resume window.',
    'The agent stayed away longer than the resume window; it starts a new session.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_SESSION_REPLACED: spec(
    'The session was replaced by a newer session of the same agent key.',
    'Another agent process with this key connected; run one agent per key.',
    false,
    EXIT.FAILURE,
  ),
  XNAT_ERR_SESSION_UNKNOWN: spec(
    'The relay does not know this session.',
    'The relay restarted or forgot the session; the agent starts a new one.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_SESSION_FORBIDDEN: spec(
    'The session resume was refused for this agent key.',
    'A session can only be resumed by the agent key that opened it, with a valid proof.',
    false,
    EXIT.AUTH,
  ),
  XNAT_ERR_SESSION_PROTOCOL: spec(
    'The peer broke the session protocol.',
    'The peer is broken or hostile; the link is closed and the session resumes on a new link.',
    true,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_SESSION_CLOSED: spec(
    'The session was closed.',
    'It was closed on purpose by this side or by the peer.',
    false,
    EXIT.FAILURE,
  ),
  XNAT_ERR_SESSION_TIMEOUT: spec(
    'The session handshake did not finish before its deadline.',
    'Check the network path between agent and relay; the agent redials.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_SESSION_VERSION: spec(
    'The peer speaks an unsupported session protocol version.',
    'Run compatible xnat versions on agent and relay.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_SESSION_LINK_REPLACED: spec(
    'A newer link took over this session.',
    'The agent reconnected; nothing to fix.',
    true,
    EXIT.NETWORK,
  ),

  // ---- COMMAND (the command framework)
  XNAT_ERR_COMMAND_UNKNOWN: spec(
    'The peer has no command of that name.',
    'Check that both sides run the same xnat version.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_COMMAND_KIND: spec(
    'The command was called as the wrong kind.',
    'Call it as the kind its definition declares (request, one-way, buffer or stream).',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_COMMAND_INVALID: spec(
    'The command payload does not match its schema.',
    'Fix the field named in the error.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_COMMAND_REPLY_INVALID: spec(
    'The command reply does not match its schema.',
    'The handler is broken or the peer runs another version.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_COMMAND_HANDLER_FAILED: spec(
    'The command handler failed.',
    'See the peer log for the cause.',
    false,
    EXIT.FAILURE,
  ),
  XNAT_ERR_COMMAND_DENIED: spec(
    'The peer does not allow this command.',
    'Authenticate first or check the permissions of this peer.',
    false,
    EXIT.AUTH,
  ),
  XNAT_ERR_COMMAND_CHANNEL_CLOSED: spec(
    'The command channel closed before the call finished.',
    'The session or endpoint went away; retry once it is back.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_COMMAND_BUSY: spec(
    'The peer has too many commands in progress.',
    'Retry later or send fewer commands at once.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_COMMAND_TOO_LARGE: spec(
    'A command message exceeds the maximum message size.',
    'Send large payloads with the buffer or stream kinds.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_COMMAND_TOO_DEEP: spec(
    'A command payload is nested too deeply.',
    'Flatten the payload.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_COMMAND_MALFORMED: spec(
    'A command message is malformed.',
    'The peer is broken or hostile; the message was dropped.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_COMMAND_BUFFER_TOO_LARGE: spec(
    'The buffer exceeds the size cap of the receiver.',
    'Send it with the stream kind or raise the cap on the receiving side.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_COMMAND_INTEGRITY: spec(
    'A transfer arrived with the wrong size or hash.',
    'The sender or its source is broken; retry the transfer.',
    true,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_COMMAND_SOURCE: spec(
    'The transfer source could not be read.',
    'Check the file path or the stream given to sendStream.',
    false,
    EXIT.FAILURE,
  ),
  XNAT_ERR_COMMAND_APP_NAME: spec(
    'An application command name must begin with the app prefix (app and a dot).',
    'Name your commands app.something (1-64 characters); xnat keeps every other name for its own commands.',
    false,
    EXIT.USAGE,
  ),
  XNAT_ERR_COMMAND_NO_SESSION: spec(
    'No session with that peer is open, so the command cannot be sent.',
    'Wait for the session.attached event (or check the agent name and that it is connected), then call again.',
    true,
    EXIT.NETWORK,
  ),

  // ---- PROTOCOL (xnat's command catalogue)
  XNAT_ERR_PROTOCOL_VERSION: spec(
    'The peer speaks another xnat protocol version.',
    'Run the same xnat version on relay and agent.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_PROTOCOL_OPEN_META: spec(
    'The stream open metadata is malformed.',
    'The peer is broken or runs another version; the stream is reset.',
    false,
    EXIT.PROTOCOL,
  ),

  // ---- MUX (streams, windows, command and datagram lanes inside a session)
  XNAT_ERR_MUX_RESET: spec(
    'The stream was reset.',
    'The peer or the application aborted the stream; see the log line for the side that reset it.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_MUX_WINDOW_EXCEEDED: spec(
    'The peer sent more stream data than its window allowed.',
    'The peer is broken or hostile; the stream is reset.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_MUX_UNKNOWN_STREAM: spec(
    'A frame names a stream that was never opened.',
    'The peer is broken or runs another version; the stream id is reset.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_MUX_PROTOCOL: spec(
    'A stream frame breaks the mux protocol.',
    'The peer is broken or hostile (wrong id parity, reused id, data after FIN); the stream is reset.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_MUX_STREAM_LIMIT: spec(
    'Too many streams are open in this session.',
    'Wait for streams to finish, or raise the stream limit of the receiving side.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_MUX_REFUSED: spec(
    'The peer does not accept new streams.',
    'The peer is closing its session or has no handler for streams yet.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_MUX_CLOSED: spec(
    'The session carrying the stream is closed.',
    'Streams end with their session; new ones are opened on the next session.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_MUX_IDS_EXHAUSTED: spec(
    'The session has used up its stream ids.',
    'Start a new session; each session allows about two billion streams per side.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_MUX_MESSAGE_SIZE: spec(
    'A command body or stream open metadata has an invalid size.',
    'This is a bug in the caller: bodies are 1 byte to 64 KiB, open metadata at most 4 KiB.',
    false,
    EXIT.INTERNAL,
  ),
  // ---- ADMIN (admin endpoint, status, metrics)
  XNAT_ERR_ADMIN_LISTEN: spec(
    'The admin or metrics endpoint could not listen.',
    'Another program may hold the port; change admin.listen or metrics.listen.',
    false,
    EXIT.NETWORK,
  ),
  XNAT_ERR_ADMIN_CONNECT: spec(
    'The admin endpoint cannot be reached.',
    'Check that the relay or agent runs with an admin block and the address is right.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_ADMIN_NOT_CONFIGURED: spec(
    'The profile has no admin block.',
    'Add admin: {listen, token} to the profile, or pass --admin and --token.',
    false,
    EXIT.CONFIG,
  ),
  XNAT_ERR_ADMIN_CLOSED: spec(
    'An operator closed this connection from the admin endpoint.',
    'Nothing is wrong with the link; the visitor may connect again.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_ADMIN_NOT_FOUND: spec(
    'The session, connection or mapping named in an admin action does not exist (any more).',
    'It may have ended meanwhile; refresh and pick again.',
    false,
    EXIT.USAGE,
  ),
  // ---- DIAG (diagnostic bundles: xnat diag)
  XNAT_ERR_DIAG_UNKNOWN_AGENT: spec(
    'No agent of that name is in the relay profile.',
    'Check the name: it is the name of an agents entry of the relay profile (xnat status lists sessions).',
    false,
    EXIT.USAGE,
  ),
  XNAT_ERR_DIAG_AGENT_DETACHED: spec(
    'The agent has no attached session, or its session ended during the transfer.',
    'Wait until the agent is connected (xnat status shows its session attached), then run the command again.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_DIAG_TOO_LARGE: spec(
    'The diagnostic bundle is larger than the cap, or its size was not declared.',
    'Ask for a larger cap with --max-bytes (up to 4 MiB); the bundle drops its oldest log lines to fit.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_DIAG_UNEXPECTED: spec(
    'A diagnostic bundle arrived that was not asked for.',
    'The peer is broken or hostile; the transfer is refused.',
    false,
    EXIT.PROTOCOL,
  ),
  XNAT_ERR_DIAG_OUTPUT: spec(
    'The diagnostic bundle could not be written to its file.',
    'Check the path given with -o and that its directory is writable.',
    false,
    EXIT.FAILURE,
  ),
  // ---- TUI (the interactive dashboard)
  XNAT_ERR_TUI_NO_TTY: spec(
    'The dashboard needs an interactive terminal.',
    'Run it in a terminal (not through a pipe), or use `xnat status` for a one-shot snapshot.',
    false,
    EXIT.USAGE,
  ),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Options when raising an error: a non-secret detail and the original cause. */
export interface ErrorOptions {
  /** Extra, non-secret context appended to the message (a port, a key path, a line number). */
  readonly detail?: string;
  readonly cause?: unknown;
}

/** The one error class of xnat. Match on `code`, never on `message`. */
export class XnatError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly retryable: boolean;
  readonly exitCode: number;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, options: ErrorOptions = {}) {
    const entry: ErrorSpec = ERRORS[code];
    super(options.detail ? `${entry.message} (${options.detail})` : entry.message, { cause: options.cause });
    this.name = 'XnatError';
    this.code = code;
    this.hint = entry.hint;
    this.retryable = entry.retryable;
    this.exitCode = entry.exitCode;
    this.detail = options.detail;
  }

  /** The shape that crosses the wire and goes into logs: code and message only. */
  toJSON(): WireError {
    return { code: this.code, message: this.message };
  }
}

/** An error as it crosses the wire: `{code, message}`, never a stack. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** True when `err` is an XnatError, optionally with the given code. */
export function isXnatError(err: unknown, code?: ErrorCode): err is XnatError {
  return err instanceof XnatError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into an XnatError; non-xnat errors become `fallback` with the original as cause. */
export function toXnatError(err: unknown, fallback: ErrorCode = 'XNAT_ERR_INTERNAL'): XnatError {
  if (err instanceof XnatError) return err;
  return new XnatError(fallback, { cause: err });
}

/** Rebuilds an error received from the peer; an unknown code maps to XNAT_ERR_INTERNAL with the code kept as detail. */
export function fromWireError(wire: WireError): XnatError {
  if (isErrorCode(wire.code)) return new XnatError(wire.code, { detail: 'from peer' });
  return new XnatError('XNAT_ERR_INTERNAL', { detail: `peer code ${String(wire.code).slice(0, 64)}` });
}
