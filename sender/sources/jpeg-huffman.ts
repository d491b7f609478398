/**
 * The standard Huffman tables of JPEG's Annex K (K.3), and the repair many USB cameras' MJPEG
 * frames need: they leave the tables out and rely on the decoder to assume these, which browsers
 * and several libraries do not. mjpg-streamer and µStreamer insert the same segment.
 */
import { JPEG_MARKER, readJpegFrameInfo } from '../../common/wire/jpeg-structure';

/**
 * DC and AC tables for luminance (class/id 00, 10) and chrominance (01, 11), as one DHT payload.
 * Byte-identical to the tables libjpeg(-turbo) writes with optimised coding off (a test checks this).
 */
const STANDARD_TABLES_HEX =
  '000001050101010101010000000000000000010203040506070809' +
  '0a0b100002010303020403050504040000017d010203000411051221314106135161072271143281' +
  '91a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a43444546' +
  '4748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495' +
  '969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9' +
  'dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa01000301010101010101010100000000000001' +
  '02030405060708090a0b1100020102040403040705040400010277000102031104052131061241510761' +
  '711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a353637' +
  '38393a434445464748494a535455565758595a636465666768696a737475767778797a8283848586' +
  '8788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9ca' +
  'd2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa';

const STANDARD_TABLES = Buffer.from(STANDARD_TABLES_HEX, 'hex');

/** One DHT segment (marker, length, the four standard tables): 420 bytes. */
export const STANDARD_DHT_SEGMENT: Buffer = Buffer.concat([
  Buffer.from([0xff, JPEG_MARKER.DHT, (STANDARD_TABLES.length + 2) >> 8, (STANDARD_TABLES.length + 2) & 0xff]),
  STANDARD_TABLES,
]);

/**
 * The JPEG as it is if it carries Huffman tables; otherwise a copy with the standard tables
 * inserted just before its scan (any place before SOS is legal). Throws JpegStructureError for a
 * JPEG whose headers are broken.
 */
export function withHuffmanTables(jpeg: Buffer): Buffer {
  const info = readJpegFrameInfo(jpeg);
  if (info.hasHuffmanTables) return jpeg;
  return Buffer.concat([jpeg.subarray(0, info.scanOffset), STANDARD_DHT_SEGMENT, jpeg.subarray(info.scanOffset)]);
}
