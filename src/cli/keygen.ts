// `xnat keygen`: prints a fresh X25519 key pair for a relay or an agent profile.
import type { Command } from 'commander';
import { generateKeyPair, encodeKey } from '../crypto/keys.ts';

export function addKeygenCommand(program: Command): void {
  program
    .command('keygen')
    .description('print a fresh key pair (base64); put privateKey in one profile and publicKey in the other')
    .option('--json', 'print JSON: {"privateKey": ..., "publicKey": ...}')
    .action((opts: { json?: boolean }) => {
      const pair = generateKeyPair();
      const privateKey = encodeKey(pair.privateKey);
      const publicKey = encodeKey(pair.publicKey);
      if (opts.json) process.stdout.write(`${JSON.stringify({ privateKey, publicKey })}\n`);
      else process.stdout.write(`privateKey: ${privateKey}\npublicKey:  ${publicKey}\n`);
    });
}
