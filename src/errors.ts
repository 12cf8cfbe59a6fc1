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
    'Use cipher backend "auto", "node" or "noble".',
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

  // ---- AUTH (who may connect)
  XNAT_ERR_AUTH_UNKNOWN_AGENT: spec(
    'The relay does not know this agent key.',
    'Add the agent public key to the relay profile (agents[].publicKey).',
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
    'The link could not connect to the relay.',
    'Check the relay address and that the relay is running.',
    true,
    EXIT.NETWORK,
  ),
  XNAT_ERR_LINK_CLOSED_BY_PEER: spec(
    'The peer closed the link.',
    'See the reason given in the log line.',
    true,
    EXIT.NETWORK,
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
