import type { Page } from 'playwright-core';

/**
 * Decodes two JPEGs with Chromium's own image decoder (createImageBitmap, drawn to a canvas) and
 * returns the largest per-channel difference between them. Rejects if Chromium cannot decode either.
 */
export async function chromiumMaxDifference(page: Page, a: Buffer, b: Buffer): Promise<number> {
  return page.evaluate(
    async ([first, second]) => {
      const decode = async (base64: string): Promise<ImageData> => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const context = canvas.getContext('2d')!;
        context.drawImage(bitmap, 0, 0);
        return context.getImageData(0, 0, bitmap.width, bitmap.height);
      };
      const [x, y] = [await decode(first), await decode(second)];
      if (x.width !== y.width || x.height !== y.height) return Infinity;
      let max = 0;
      for (let i = 0; i < x.data.length; i++) max = Math.max(max, Math.abs(x.data[i]! - y.data[i]!));
      return max;
    },
    [a.toString('base64'), b.toString('base64')] as const,
  );
}
