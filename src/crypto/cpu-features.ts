// Whether this CPU has AES instructions (x86 AES-NI, ARMv8 crypto extensions), read once from
// /proc/cpuinfo on Linux. It knows nothing of suites; link/suites.ts turns the answer into a choice.
import { readFileSync } from 'node:fs';

/** Where the answer came from, for logs and tests. */
export type AesSource = 'cpuinfo' | 'platform' | 'unknown';

export interface AesSupport {
  readonly aes: boolean;
  readonly source: AesSource;
}

/** What detection looks at; injectable for tests. */
export interface CpuProbe {
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  /** The text of /proc/cpuinfo, or undefined when it cannot be read. */
  readonly cpuinfo: () => string | undefined;
}

/**
 * True when a `flags` (x86) or `Features` (ARM) line lists `aes`; false when such lines exist without it;
 * undefined when the text has neither (a format we do not know).
 */
export function cpuinfoHasAes(text: string): boolean | undefined {
  let sawList = false;
  for (const line of text.split('\n')) {
    const m = /^(flags|features)\s*:(.*)$/i.exec(line);
    if (!m) continue;
    sawList = true;
    // Every core lists the same flags; one that has aes is enough.
    if (m[2]!.trim().split(/\s+/).includes('aes')) return true;
  }
  return sawList ? false : undefined;
}

function readCpuinfo(): string | undefined {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined;
  }
}

const realProbe: CpuProbe = { platform: process.platform, arch: process.arch, cpuinfo: readCpuinfo };

/**
 * Linux: the cpuinfo flags. Elsewhere (no /proc): macOS and Windows on x64 or arm64 have had AES
 * instructions on every machine they still run on (Intel since 2010, Apple silicon, Windows on ARM's
 * required ARMv8 crypto). Anything else, or an unreadable cpuinfo, answers false: ChaCha20 is never slow.
 */
export function detectAes(probe: CpuProbe = realProbe): AesSupport {
  if (probe.platform === 'linux' || probe.platform === 'android') {
    const text = probe.cpuinfo();
    const aes = text === undefined ? undefined : cpuinfoHasAes(text);
    return aes === undefined ? { aes: false, source: 'unknown' } : { aes, source: 'cpuinfo' };
  }
  const desktop = probe.platform === 'darwin' || probe.platform === 'win32';
  if (desktop && (probe.arch === 'x64' || probe.arch === 'arm64')) return { aes: true, source: 'platform' };
  return { aes: false, source: 'unknown' };
}

let cached: AesSupport | undefined;

/** detectAes() of this machine, computed once per process. */
export function hasAesInstructions(): AesSupport {
  return (cached ??= detectAes());
}
