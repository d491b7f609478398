import { nowMicros } from '../../common/clock';
import { drawText, textSize } from './bitmap-font';
import type { ChannelOrder, FrameSource, RawFrame } from './frame-source';

type Rgb = readonly [number, number, number];

/** Full-intensity colour bars, left to right: they survive JPEG well, so tests can check them by pixel. */
export const TEST_PATTERN_BARS: readonly Rgb[] = [
  [255, 255, 255],
  [255, 255, 0],
  [0, 255, 255],
  [0, 255, 0],
  [255, 0, 255],
  [255, 0, 0],
  [0, 0, 255],
  [0, 0, 0],
];
const BAND_RGB: Rgb = [48, 48, 48];
const BOX_RGB: Rgb = [255, 255, 255];
const TEXT_RGB: Rgb = [255, 220, 0];

/** Where things are in a test-pattern frame; shared by the generator and the tests that check it. */
export function testPatternLayout(width: number, height: number) {
  const barsHeight = Math.round(height * 0.6);
  const bandHeight = height - barsHeight;
  const box = Math.max(4, Math.round(bandHeight / 3));
  const step = Math.max(2, Math.round(width / 120));
  const scale = Math.max(1, Math.floor(height / 160));
  return {
    barsHeight,
    box,
    boxY: barsHeight + Math.round((bandHeight - box) / 4),
    /** Left edge of the moving box in frame `index`: it sweeps the width, then starts over. */
    boxX: (index: number): number => (index * step) % Math.max(1, width - box),
    textScale: scale,
    textY: height - Math.round(bandHeight / 4) - 7 * scale,
    /** The colour of the static bar at column x. */
    barColor: (x: number): Rgb => TEST_PATTERN_BARS[Math.min(7, Math.floor((x * 8) / width))]!,
  };
}

/** A colour's bytes in the order the frame's consumer wants them. */
function inOrder(rgb: Rgb, order: ChannelOrder): Rgb {
  return order === 'rgb' ? rgb : [rgb[2], rgb[1], rgb[0]];
}

function timeOfDay(epochUs: number): string {
  return new Date(epochUs / 1000).toISOString().slice(11, 23);
}

/**
 * The built-in source: colour bars over a band with a moving box, and the frame number and
 * capture time burned in. Needs no camera and no OpenCV, so zerocam runs anywhere.
 */
export class TestPatternSource implements FrameSource {
  readonly description = 'testsrc';
  readonly nativeFps = undefined;
  private readonly base: Buffer;
  private readonly layout: ReturnType<typeof testPatternLayout>;
  private index = 0;
  private closed = false;

  constructor(
    readonly width: number,
    readonly height: number,
    /** The byte order of the frames' pixels: what the encoder takes without converting. */
    readonly order: ChannelOrder = 'rgb',
  ) {
    this.layout = testPatternLayout(width, height);
    this.base = Buffer.alloc(width * height * 3);
    const row = Buffer.alloc(width * 3);
    for (let x = 0; x < width; x++) row.set(inOrder(this.layout.barColor(x), order), x * 3);
    for (let y = 0; y < this.layout.barsHeight; y++) row.copy(this.base, y * width * 3);
    const band = Buffer.from(Array.from({ length: width }, () => inOrder(BAND_RGB, order)).flat());
    for (let y = this.layout.barsHeight; y < height; y++) band.copy(this.base, y * width * 3);
  }

  read(): Promise<RawFrame | null> {
    if (this.closed) return Promise.resolve(null);
    const { width, height, layout, order } = this;
    const captureUs = nowMicros();
    // A fresh buffer per frame: several encodes may hold earlier frames at once.
    const pixels = Buffer.allocUnsafe(this.base.length);
    this.base.copy(pixels);
    const boxRow = Buffer.from(Array.from({ length: layout.box }, () => inOrder(BOX_RGB, order)).flat());
    const boxX = layout.boxX(this.index);
    for (let y = layout.boxY; y < layout.boxY + layout.box && y < height; y++) {
      boxRow.copy(pixels, (y * width + boxX) * 3);
    }
    const label = `#${String(this.index).padStart(6, '0')} ${timeOfDay(captureUs)}`;
    const fits = textSize(label, layout.textScale).width <= width;
    drawText(pixels, width, height, fits ? label : String(this.index), 4 * layout.textScale, layout.textY, layout.textScale, inOrder(TEXT_RGB, order));
    this.index++;
    return Promise.resolve({ pixels, order, width, height, captureUs });
  }

  close(): void {
    this.closed = true;
  }
}
