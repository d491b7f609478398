import { InvalidArgumentError, type Command, type Option } from 'commander';
import { readAllowlist, readSecretKeyFile, readServerKey, type CurveKeyPair } from '../sockets/curve-keys';
import type { CurveSettings } from '../sockets/curve-security';
import { describeError } from '../errors';
import { envOption } from './program';

/** The CURVE flags: key files are read and checked while the flags are parsed, so a bad one is a usage error. */
/** A key-file reader as a commander parser: a bad file is one line naming the option, exit 2. */
function keyArgument<T>(read: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return read(value);
    } catch (error) {
      throw new InvalidArgumentError(describeError(error));
    }
  };
}

/** --curve-key: this program's own key pair; giving it turns CURVE on. */
export function curveKeyOption(): Option {
  return envOption('--curve-key <file>', 'CURVE: this program\'s key pair (a .key file from zerocam-keys); turns encryption on', 'CURVE_KEY').argParser(keyArgument(readSecretKeyFile));
}

/** --curve-allow, or a side-specific allowlist such as the hub's `--curve-allow-senders <path>` (env CURVE_ALLOW_SENDERS). */
export function curveAllowOption(flags = '--curve-allow <path>', envName = 'CURVE_ALLOW', who = 'clients'): Option {
  return envOption(flags, `CURVE, binding side: the ${who} allowed to connect (a .pub file, a file of keys one per line, or a directory of .pub files)`, envName).argParser(
    keyArgument(readAllowlist),
  );
}

/** --curve-server: the public key of the CURVE server a connecting side talks to. */
export function curveServerOption(): Option {
  return envOption('--curve-server <file|key>', 'CURVE, connecting side: the server\'s public key (its .pub file, or the 40-character key)', 'CURVE_SERVER').argParser(keyArgument(readServerKey));
}

/** The flags every program with one ZeroMQ socket takes. */
export function addCurveOptions(program: Command): Command {
  return program.addOption(curveKeyOption()).addOption(curveAllowOption()).addOption(curveServerOption());
}

export interface CurveFlags {
  curveKey?: CurveKeyPair;
  curveAllow?: ReadonlySet<string>;
  curveServer?: string;
}

export function curveSettingsFrom(raw: CurveFlags): CurveSettings {
  return { key: raw.curveKey, allow: raw.curveAllow, serverKey: raw.curveServer };
}

export const CURVE_HELP = `CURVE encryption (keys from zerocam-keys generate NAME):
  binding side:    --curve-key NAME.key [--curve-allow clients/]
  connecting side: --curve-server SERVER.pub [--curve-key NAME.key]`;
