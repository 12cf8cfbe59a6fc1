// `xnat keygen`: prints a fresh X25519 key pair for a relay or an agent profile; with --public, the
// public key of an existing private key instead (see pubkey.ts).
import type { Command } from 'commander';
import { generateKeyPair, encodeKey } from '../crypto/keys.ts';
import { printPublicKey } from './pubkey.ts';
import { XnatError } from '../errors.ts';

export function addKeygenCommand(program: Command): void {
  program
    .command('keygen')
    .description('print a fresh key pair (base64); put privateKey in one profile and publicKey in the other')
    .argument('[file]', 'with --public: private key file or profile; default (or -): stdin')
    .option('--json', 'print JSON: {"privateKey": ..., "publicKey": ...}')
    .option('--public', 'print the public key of an existing private key (FILE or stdin) instead')
    .action(async (file: string | undefined, opts: { json?: boolean; public?: boolean }) => {
      if (opts.public) return printPublicKey(file, opts.json ?? false);
      if (file) throw new XnatError('XNAT_ERR_CLI_USAGE', { detail: 'a FILE is read only with --public' });
      const pair = generateKeyPair();
      const privateKey = encodeKey(pair.privateKey);
      const publicKey = encodeKey(pair.publicKey);
      if (opts.json) process.stdout.write(`${JSON.stringify({ privateKey, publicKey })}\n`);
      else process.stdout.write(`privateKey: ${privateKey}\npublicKey:  ${publicKey}\n`);
    });
}
