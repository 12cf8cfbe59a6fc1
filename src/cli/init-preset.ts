// `xnat init --preset NAME`: the profiles of plain `xnat init` with the agent's mappings replaced by the
// game's preset and the relay's allow list by exactly the ports that preset claims.
// It edits the rendered YAML documents (comments and other blocks kept); it knows nothing of keys.
import { isScalar, parseDocument, type Document } from 'yaml';
import {
  PRESET_NAMES,
  formatPortRange,
  isPresetName,
  presetOf,
  suggestPreset,
  type PortSpan,
  type PresetName,
} from '../config/index.ts';
import { XnatError } from '../errors.ts';

/** The public port `generic` (no ports of its own) is written with; a placeholder the comment says to edit. */
export const GENERIC_PLACEHOLDER_PORT = 20_000;

/** The preset named on the command line, or XNAT_ERR_CLI_USAGE listing the names (and a likely one). */
export function presetFromFlag(text: string): PresetName {
  if (isPresetName(text)) return text;
  const guess = suggestPreset(text);
  throw new XnatError('XNAT_ERR_CLI_USAGE', {
    detail: `--preset must be one of ${PRESET_NAMES.join(', ')}${guess ? `; did you mean ${guess}?` : ''}`,
  });
}

const spanText = (s: PortSpan) => (s.from === s.to ? `${s.from}` : `${s.from}-${s.to}`);

/** The allow entries a preset's mapping needs: `2456-2458/udp`, `27015/tcp+udp`. */
export function presetAllow(name: PresetName): string[] {
  const p = presetOf(name);
  const ports = p.ports ?? { from: GENERIC_PLACEHOLDER_PORT, to: GENERIC_PLACEHOLDER_PORT };
  if (p.protocol === 'tcp+udp') return [`${spanText(ports)}/tcp+udp`];
  return [formatPortRange({ protocol: p.protocol, ...ports })];
}

function edit(text: string, change: (doc: Document) => void): string {
  const doc = parseDocument(text);
  change(doc);
  return doc.toString({ lineWidth: 0 });
}

/**
 * Rewrites the two profiles `renderInitProfiles` wrote: the relay's first agent may claim the preset's
 * ports only, and the agent has one mapping, `preset: NAME` with `local` on 127.0.0.1 (the game server
 * beside the agent; the comment says where to change it).
 */
export function applyPreset(
  profiles: { relay: string; agent: string },
  name: PresetName,
): { relay: string; agent: string } {
  const p = presetOf(name);
  const allow = presetAllow(name);
  const relay = edit(profiles.relay, (doc) => {
    const node = doc.createNode(allow);
    node.flow = true;
    for (const item of node.items) if (isScalar(item)) item.type = 'QUOTE_DOUBLE';
    doc.setIn(['agents', 0, 'allow'], node);
  });
  const agent = edit(profiles.agent, (doc) => {
    const entry: Record<string, string | number> = { preset: name, local: '127.0.0.1' };
    if (!p.ports) entry.remotePort = GENERIC_PLACEHOLDER_PORT;
    const list = doc.createNode([entry]);
    const where = p.ports ? `${spanText(p.ports)}/${p.protocol}` : `both protocols, no default port`;
    list.commentBefore =
      ` ${p.title} (preset ${name}: ${where}); see docs/profiles.md, "Game presets".\n` +
      ` local: the game server's LAN address; its ports are the preset's unless written (host:port).\n` +
      (p.ports
        ? ` Other public ports: remotePort (the relay's allow list must cover them).`
        : ` Set remotePort to the game's port, here and in the relay's allow list.`);
    doc.set('mappings', list);
  });
  return { relay, agent };
}
