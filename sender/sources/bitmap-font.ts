/** A 5x7 pixel font, just the characters the test pattern burns in. '#' marks a lit pixel. */
const GLYPHS: Record<string, readonly string[]> = {
  '0': [' ### ', '#   #', '#  ##', '# # #', '##  #', '#   #', ' ### '],
  '1': ['  #  ', ' ##  ', '  #  ', '  #  ', '  #  ', '  #  ', ' ### '],
  '2': [' ### ', '#   #', '    #', '   # ', '  #  ', ' #   ', '#####'],
  '3': ['#####', '   # ', '  #  ', '   # ', '    #', '#   #', ' ### '],
  '4': ['   # ', '  ## ', ' # # ', '#  # ', '#####', '   # ', '   # '],
  '5': ['#####', '#    ', '#### ', '    #', '    #', '#   #', ' ### '],
  '6': ['  ## ', ' #   ', '#    ', '#### ', '#   #', '#   #', ' ### '],
  '7': ['#####', '    #', '   # ', '  #  ', ' #   ', ' #   ', ' #   '],
  '8': [' ### ', '#   #', '#   #', ' ### ', '#   #', '#   #', ' ### '],
  '9': [' ### ', '#   #', '#   #', ' ####', '    #', '   # ', ' ##  '],
  ':': ['     ', '  #  ', '  #  ', '     ', '  #  ', '  #  ', '     '],
  '.': ['     ', '     ', '     ', '     ', '     ', ' ##  ', ' ##  '],
  '#': [' # # ', '#####', ' # # ', ' # # ', '#####', ' # # ', '     '],
  ' ': ['     ', '     ', '     ', '     ', '     ', '     ', '     '],
};

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 7;

/** Bounding box of `text` drawn at `scale`, with one blank column between characters. */
export function textSize(text: string, scale: number): { width: number; height: number } {
  return { width: text.length * (GLYPH_WIDTH + 1) * scale, height: GLYPH_HEIGHT * scale };
}

/** Draws `text` into a packed RGB image; pixels outside the image are clipped. */
export function drawText(
  image: Buffer,
  imageWidth: number,
  imageHeight: number,
  text: string,
  x0: number,
  y0: number,
  scale: number,
  rgb: readonly [number, number, number],
): void {
  const run = Buffer.from(Array.from({ length: scale }, () => rgb).flat());
  for (let i = 0; i < text.length; i++) {
    const glyph = GLYPHS[text[i] ?? ' '] ?? GLYPHS[' ']!;
    const gx = x0 + i * (GLYPH_WIDTH + 1) * scale;
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      const bits = glyph[row] ?? '';
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (bits[col] !== '#') continue;
        const px = gx + col * scale;
        if (px < 0 || px + scale > imageWidth) continue;
        for (let dy = 0; dy < scale; dy++) {
          const py = y0 + row * scale + dy;
          if (py >= 0 && py < imageHeight) run.copy(image, (py * imageWidth + px) * 3);
        }
      }
    }
  }
}
