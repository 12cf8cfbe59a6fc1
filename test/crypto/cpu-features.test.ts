// AES instruction detection from /proc/cpuinfo text and platform, and the `auto` suite choice built on it.
import test from 'ava';
import { readFileSync } from 'node:fs';
import {
  cpuinfoHasAes,
  detectAes,
  hasAesInstructions,
  type CpuProbe,
} from '../../src/crypto/cpu-features.ts';
import { SuiteProposal, resolveCipher } from '../../src/link/suites.ts';

const X86_AESNI = [
  'processor\t: 0',
  'vendor_id\t: AuthenticAMD',
  'flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat sse sse2 ssse3 pclmulqdq aes avx avx2 vaes',
  '',
].join('\n');
const X86_NO_AES = 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr sse sse2 ssse3\n';
// Raspberry Pi 4 (Cortex-A72 in the BCM2711: no crypto extensions) and Pi 5 (Cortex-A76: with them).
const PI4 =
  'processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n';
const PI5 =
  'processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n';
// A 32-bit Pi OS kernel names them the same way.
const PI3_ARMV7 =
  'processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\n';

test('cpuinfo text: aes in x86 flags or ARM Features, not a substring of another flag', (t) => {
  t.true(cpuinfoHasAes(X86_AESNI));
  t.false(cpuinfoHasAes(X86_NO_AES));
  t.false(cpuinfoHasAes(PI4));
  t.true(cpuinfoHasAes(PI5));
  t.false(cpuinfoHasAes(PI3_ARMV7));
  t.false(cpuinfoHasAes('flags : vaes aes128 xaes\n'), 'only the exact word counts');
  t.is(cpuinfoHasAes('something else entirely\n'), undefined);
  t.is(cpuinfoHasAes(''), undefined);
});

const probe = (p: Partial<CpuProbe>): CpuProbe => ({
  platform: 'linux',
  arch: 'x64',
  cpuinfo: () => undefined,
  ...p,
});

test('detectAes: Linux reads cpuinfo; unreadable or unknown text means no; macOS and Windows x64/arm64 yes', (t) => {
  t.deepEqual(detectAes(probe({ cpuinfo: () => X86_AESNI })), { aes: true, source: 'cpuinfo' });
  t.deepEqual(detectAes(probe({ arch: 'arm64', cpuinfo: () => PI4 })), { aes: false, source: 'cpuinfo' });
  t.deepEqual(detectAes(probe({ arch: 'arm64', cpuinfo: () => PI5 })), { aes: true, source: 'cpuinfo' });
  t.deepEqual(detectAes(probe({})), { aes: false, source: 'unknown' });
  t.deepEqual(detectAes(probe({ cpuinfo: () => 'garbage' })), { aes: false, source: 'unknown' });
  t.deepEqual(detectAes(probe({ platform: 'darwin', arch: 'arm64' })), { aes: true, source: 'platform' });
  t.deepEqual(detectAes(probe({ platform: 'win32', arch: 'x64' })), { aes: true, source: 'platform' });
  t.deepEqual(detectAes(probe({ platform: 'freebsd', arch: 'x64' })), { aes: false, source: 'unknown' });
  t.deepEqual(detectAes(probe({ platform: 'darwin', arch: 'ia32' })), { aes: false, source: 'unknown' });
});

test('this machine: the detection agrees with /proc/cpuinfo', (t) => {
  let text: string | undefined;
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    text = undefined;
  }
  if (process.platform !== 'linux' || text === undefined) {
    t.pass('no /proc/cpuinfo here');
    return;
  }
  const expected = /^(flags|features)\s*:.*\baes\b/im.test(text);
  t.is(hasAesInstructions().aes, expected);
  t.is(hasAesInstructions(), hasAesInstructions(), 'computed once');
});

test('resolveCipher and SuiteProposal: auto follows the CPU, an explicit suite is kept, refusals move auto on', (t) => {
  const aes = { aes: true, source: 'cpuinfo' } as const;
  const noAes = { aes: false, source: 'cpuinfo' } as const;
  t.is(resolveCipher('auto', aes), 'aes-256-gcm');
  t.is(resolveCipher('auto', noAes), 'chacha20-poly1305');
  t.is(resolveCipher('aes-256-gcm', noAes), 'aes-256-gcm');
  t.is(resolveCipher('chacha20-poly1305', aes), 'chacha20-poly1305');

  const pi = new SuiteProposal('auto', noAes);
  t.is(pi.current, 'chacha20-poly1305');
  pi.refused('chacha20-poly1305');
  t.is(pi.current, 'aes-256-gcm');
  pi.refused('aes-256-gcm');
  t.is(pi.current, 'chacha20-poly1305', 'every suite refused: start over');

  const fixed = new SuiteProposal('chacha20-poly1305', aes);
  fixed.refused('chacha20-poly1305');
  t.is(fixed.current, 'chacha20-poly1305');
});
