// Where a command finds the admin endpoint of a running relay or agent: --admin/--token, or a profile.
// The profile code (zod, yaml) is imported only for --profile: the dashboard stays small (issue 10, memory).
import { XnatError } from '../errors.ts';
import { parseHostPortText } from '../util/ports.ts';

export interface AdminTarget {
  readonly host: string;
  readonly port: number;
  readonly token: string;
}

/** Where the admin endpoint is: from --admin/--token, or from the profile's admin block. */
export async function resolveAdminTarget(opts: {
  profile?: string;
  admin?: string;
  token?: string;
}): Promise<AdminTarget> {
  if (opts.admin) {
    const hp = parseHostPortText(opts.admin);
    // The message config's parseHostPort gives for the same text.
    if (!hp.ok)
      throw new XnatError('XNAT_ERR_CONFIG_INVALID', {
        detail: `"${opts.admin.slice(0, 300)}": ${hp.reason}`,
      });
    const token = opts.token ?? process.env.XNAT_ADMIN_TOKEN;
    if (!token)
      throw new XnatError('XNAT_ERR_CLI_USAGE', {
        detail: '--token or XNAT_ADMIN_TOKEN is required with --admin',
      });
    return { host: hp.value.host, port: hp.value.port, token };
  }
  if (!opts.profile) throw new XnatError('XNAT_ERR_CLI_USAGE', { detail: 'give --profile or --admin' });
  const { loadProfile } = await import('../config/index.ts');
  const profile = loadProfile(opts.profile);
  if (!profile.admin) throw new XnatError('XNAT_ERR_ADMIN_NOT_CONFIGURED', { detail: opts.profile });
  const host =
    profile.admin.listen.host === '0.0.0.0'
      ? '127.0.0.1'
      : profile.admin.listen.host === '::'
        ? '::1'
        : profile.admin.listen.host;
  return { host, port: profile.admin.listen.port, token: profile.admin.token };
}
