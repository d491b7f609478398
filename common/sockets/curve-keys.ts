import { createPrivateKey, createPublicKey } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { describeError, KeyFileError } from '../errors';
import { z85Decode, z85Encode } from './z85';

/** A CURVE key pair, both halves Z85 text (40 characters for 32 bytes). */
export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/** What a key file holds: a `.pub` has only the public key. */
export interface KeyFileContents {
  publicKey: string;
  secretKey?: string;
}

export const SECRET_KEY_SUFFIX = '.key';
export const PUBLIC_KEY_SUFFIX = '.pub';

export function isCurveKey(text: string): boolean {
  return text.length === 40 && z85Decode(text)?.length === 32;
}

/** A fresh key pair from libzmq's own generator. */
export function generateKeyPair(): CurveKeyPair {
  return zmq.curveKeyPair();
}

/** PKCS#8 DER for an X25519 private key, up to the 32 raw key bytes that follow it (RFC 8410). */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * The public key that belongs to a CURVE secret key (Z85 both): X25519 of the base point, as
 * libsodium's crypto_scalarmult_base computes it for libzmq. zeromq.js can only make new pairs.
 */
export function publicKeyOf(secretKey: string): string {
  const secret = z85Decode(secretKey);
  if (secret?.length !== 32) throw new KeyFileError('a CURVE secret key is 40 Z85 characters (32 bytes)');
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' });
  return z85Encode(Buffer.from(x!, 'base64url'));
}

// The ZPL certificate layout of czmq's zcert, so pyzmq's zmq.auth.load_certificate and czmq read these files too.
function certificateText(keys: KeyFileContents): string {
  const kind = keys.secretKey === undefined ? 'Public' : '**Secret**';
  const warning = keys.secretKey === undefined ? '' : '#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n';
  return (
    `#   ****  Generated on ${new Date().toISOString()} by zerocam-keys  ****\n` +
    `#   ZeroMQ CURVE ${kind} Certificate\n` +
    warning +
    '\nmetadata\ncurve\n' +
    `    public-key = "${keys.publicKey}"\n` +
    (keys.secretKey === undefined ? '' : `    secret-key = "${keys.secretKey}"\n`)
  );
}

function createExclusive(path: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new KeyFileError(code === 'EEXIST' ? `${path} already exists; not overwriting it` : `cannot write ${path}: ${describeError(error)}`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** Writes NAME.key (secret and public, mode 0600) and NAME.pub. Never overwrites either file. */
export function writeKeyFiles(name: string, keys: CurveKeyPair): { secretFile: string; publicFile: string } {
  const secretFile = name + SECRET_KEY_SUFFIX;
  const publicFile = name + PUBLIC_KEY_SUFFIX;
  // Checked before writing either, so a refusal leaves nothing half-made behind.
  for (const file of [secretFile, publicFile]) {
    if (statSync(file, { throwIfNoEntry: false })) throw new KeyFileError(`${file} already exists; not overwriting it`);
  }
  createExclusive(secretFile, certificateText(keys), 0o600);
  try {
    createExclusive(publicFile, certificateText({ publicKey: keys.publicKey }), 0o644);
  } catch (error) {
    unlinkSync(secretFile);
    throw error;
  }
  return { secretFile, publicFile };
}

const KEY_LINE = /^(public-key|secret-key)\s*=\s*"([^"]*)"$/;
const METADATA_LINE = /^[A-Za-z0-9_-]+\s*=\s*"[^"]*"$/;
const SECTION_LINE = /^(metadata|curve)$/;

interface ParsedKeys {
  publicKeys: string[];
  secretKeys: string[];
}

/** Reads a zcert-style certificate, or bare Z85 keys one per line; `#` starts a comment. */
function parseKeyText(text: string, file: string): ParsedKeys {
  const parsed: ParsedKeys = { publicKeys: [], secretKeys: [] };
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file} line ${index + 1}`;
    const keyLine = KEY_LINE.exec(line);
    if (keyLine) {
      if (!isCurveKey(keyLine[2]!)) throw new KeyFileError(`${where}: the ${keyLine[1]} is not a 40-character Z85 key`);
      (keyLine[1] === 'public-key' ? parsed.publicKeys : parsed.secretKeys).push(keyLine[2]!);
    } else if (isCurveKey(line)) {
      parsed.publicKeys.push(line);
    } else if (!SECTION_LINE.test(line) && !METADATA_LINE.test(line)) {
      throw new KeyFileError(`${where}: not a CURVE key file (expected public-key = "...", or one Z85 key per line)`);
    }
  });
  return parsed;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new KeyFileError(`cannot read ${file}: ${describeError(error)}`);
  }
}

/** The keys in a `.key` or `.pub` file. A file holding a secret key must be private to its owner, as ssh insists. */
export function readKeyFile(file: string): KeyFileContents {
  const parsed = parseKeyText(readText(file), file);
  if (parsed.publicKeys.length !== 1 || parsed.secretKeys.length > 1) {
    throw new KeyFileError(`${file}: expected one public key (and at most one secret key), found ${parsed.publicKeys.length} and ${parsed.secretKeys.length}`);
  }
  const publicKey = parsed.publicKeys[0]!;
  const secretKey = parsed.secretKeys[0];
  if (secretKey === undefined) return { publicKey };
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(`${file} holds a secret key but its permissions are ${mode.toString(8).padStart(4, '0')}; run: chmod 600 ${file}`);
  }
  // A pair pieced together from two files (or mistyped) would fail every handshake, and each peer would blame its own --curve-server.
  if (publicKeyOf(secretKey) !== publicKey) {
    throw new KeyFileError(`${file}: its public key does not belong to its secret key (the file was edited, or mixes two pairs); make a new pair with zerocam-keys generate`);
  }
  return { publicKey, secretKey };
}

/** This program's own key pair, from a `.key` file. */
export function readSecretKeyFile(file: string): CurveKeyPair {
  const keys = readKeyFile(file);
  if (keys.secretKey === undefined) throw new KeyFileError(`${file} holds only a public key; give the .key file made by zerocam-keys generate`);
  return { publicKey: keys.publicKey, secretKey: keys.secretKey };
}

/** A server's public key: the key itself, or a `.pub` / `.key` file holding it. */
export function readServerKey(fileOrKey: string): string {
  return isCurveKey(fileOrKey) ? fileOrKey : readKeyFile(fileOrKey).publicKey;
}

/**
 * The public keys allowed to connect: a directory of `.pub` files, or one file (a certificate, or
 * one key per line). Secret keys never belong in an allowlist, so a file holding one is refused.
 */
export function readAllowlist(path: string): ReadonlySet<string> {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path).filter((name) => name.endsWith(PUBLIC_KEY_SUFFIX)).sort().map((name) => join(path, name))
      : [path];
  } catch (error) {
    throw new KeyFileError(`cannot read ${path}: ${describeError(error)}`);
  }
  const keys = new Set<string>();
  for (const file of files) {
    const parsed = parseKeyText(readText(file), file);
    if (parsed.secretKeys.length > 0) throw new KeyFileError(`${file} holds a secret key; an allowlist takes public keys (.pub files) only`);
    for (const key of parsed.publicKeys) keys.add(key);
  }
  if (keys.size === 0) throw new KeyFileError(`${path} holds no public keys, so it would let no one in`);
  return keys;
}
