/**
 * Z85 (ZeroMQ RFC 32), the text form of CURVE keys. zeromq.js hands out keys as Z85 but has no
 * codec, and ZAP delivers a client's key as 32 raw bytes, so both directions are needed here.
 */
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DECODE = new Map([...ALPHABET].map((char, index) => [char, index]));

/** Z85 of `data`, whose length must be a multiple of 4. */
export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0) throw new RangeError('Z85 encodes whole 4-byte groups only');
  let text = '';
  for (let offset = 0; offset < data.length; offset += 4) {
    let value = ((data[offset]! << 24) >>> 0) + (data[offset + 1]! << 16) + (data[offset + 2]! << 8) + data[offset + 3]!;
    const group: string[] = [];
    for (let i = 0; i < 5; i++) {
      group.unshift(ALPHABET[value % 85]!);
      value = Math.floor(value / 85);
    }
    text += group.join('');
  }
  return text;
}

/** The bytes `text` encodes, or undefined if it is not valid Z85. */
export function z85Decode(text: string): Buffer | undefined {
  if (text.length % 5 !== 0) return undefined;
  const bytes = Buffer.alloc((text.length / 5) * 4);
  for (let offset = 0; offset < text.length; offset += 5) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const digit = DECODE.get(text[offset + i]!);
      if (digit === undefined) return undefined;
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) return undefined;
    bytes.writeUInt32BE(value, (offset / 5) * 4);
  }
  return bytes;
}
