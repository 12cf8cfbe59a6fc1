// Resource use of running processes from /proc: resident memory (now and peak) and CPU seconds.
// It knows nothing of which process is a relay or an agent; callers pass pids.
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat utime/stime (USER_HZ; 100 on every Linux ABI node runs on). */
const CLOCK_TICKS_PER_S = 100;

export interface MemStats {
  /** VmRSS: resident memory now, in bytes. */
  readonly rssBytes: number;
  /** VmHWM: peak resident memory since start, in bytes. */
  readonly hwmBytes: number;
}

function statusField(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Memory of `pid`; zeros when it has exited. */
export function memStats(pid: number): MemStats {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rssBytes: statusField(text, 'VmRSS'), hwmBytes: statusField(text, 'VmHWM') };
  } catch {
    return { rssBytes: 0, hwmBytes: 0 };
  }
}

/** Sum of memory over `pids` (a side made of several processes, such as sshd and its session child). */
export function memOf(pids: readonly number[]): MemStats {
  let rssBytes = 0;
  let hwmBytes = 0;
  for (const pid of pids) {
    const m = memStats(pid);
    rssBytes += m.rssBytes;
    hwmBytes += m.hwmBytes;
  }
  return { rssBytes, hwmBytes };
}

/** utime + stime of `pid`, in seconds; 0 when it has exited. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** CPU seconds summed over `pids`. */
export function cpuOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}
