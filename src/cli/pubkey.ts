// `xnat pubkey [FILE]` (and `xnat keygen --public [FILE]`): the public key of a private key read from a
// key file, a profile (its own privateKey) or stdin. It never prints or logs the private key.
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { encodeKey, publicKeyFromPrivate } from '../crypto/keys.ts';
import { decodeKey32 } from '../util/bytes.ts';
import { loadProfile, MAX_PROFILE_BYTES, openFileWarning, openToOthers } from '../config/index.ts';
import { XnatError } from '../errors.ts';

/** Most bytes read from stdin: a key is 44 characters; more is not a key (and is not buffered). */
const MAX_STDIN_BYTES = 4096;

/** The private key in `text` (base64 of 32 bytes, surrounding blanks allowed); KEY_TEXT naming `where`. */
function keyFromText(text: string, where: string): Buffer {
  const key = decodeKey32(text.trim());
  if (!key)
    throw new XnatError('XNAT_ERR_CONFIG_KEY_TEXT', { detail: `${where}: must be base64 of 32 bytes` });
  return key;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('paste the private key (base64), then press Ctrl-D\n');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_BYTES)
      throw new XnatError('XNAT_ERR_CONFIG_KEY_TEXT', {
        detail: `stdin: more than ${MAX_STDIN_BYTES} bytes`,
      });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A key file, or a profile whose own private key is used (`xnat pubkey relay.yaml`); warnings on stderr. */
function keyFromFile(path: string): Buffer {
  let st;
  try {
    st = statSync(path);
  } catch (cause) {
    throw new XnatError('XNAT_ERR_CONFIG_READ', { detail: path, cause });
  }
  if (!st.isFile()) throw new XnatError('XNAT_ERR_CONFIG_NOT_FILE', { detail: path });
  if (st.size > MAX_PROFILE_BYTES) throw new XnatError('XNAT_ERR_CONFIG_TOO_LARGE', { detail: path });
  const text = readFileSync(path, 'utf8');
  if (decodeKey32(text.trim()) || !/^(relay|agent):/m.test(text)) {
    if (openToOthers(st.mode))
      process.stderr.write(`warning: ${openFileWarning(path, st.mode, 'a private key')}\n`);
    return keyFromText(text, path);
  }
  const profile = loadProfile(path);
  for (const w of profile.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  return profile.kind === 'relay' ? profile.relay.privateKey : profile.agent.privateKey;
}

/** Prints the public key of the private key in `file` (or stdin when absent or "-"). */
export async function printPublicKey(file: string | undefined, json: boolean): Promise<void> {
  const priv = file && file !== '-' ? keyFromFile(file) : keyFromText(await readStdin(), 'stdin');
  const publicKey = encodeKey(publicKeyFromPrivate(priv));
  process.stdout.write(json ? `${JSON.stringify({ publicKey })}\n` : `${publicKey}\n`);
}

export function addPubkeyCommand(program: Command): void {
  program
    .command('pubkey')
    .description('print the public key of a private key (a key file, a profile, or stdin)')
    .argument('[file]', 'private key file, or a relay/agent profile; default (or -): stdin')
    .option('--json', 'print JSON: {"publicKey": ...}')
    .action((file: string | undefined, opts: { json?: boolean }) => printPublicKey(file, opts.json ?? false));
}
