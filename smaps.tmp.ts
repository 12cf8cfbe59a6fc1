import { startPath, startService } from './test/bench/lib/paths.ts';
import { waitForEcho } from './test/bench/lib/net.ts';
import { execFileSync } from 'node:child_process';
const service = await startService('echo', {});
const path = await startPath('xnat', service.port, {});
await waitForEcho(path.publicPort, 10000);
await new Promise((r) => setTimeout(r, 3000));
console.log(execFileSync('/tmp/fp/smaps.sh', [String(path.relayPids()[0])], { encoding: 'utf8' }));
await path.close(); await service.close();
