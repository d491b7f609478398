// A zerocam-worker plug-in processor: zerocam-worker --processor worker/examples/brightness.mjs
//
// A plug-in is a JavaScript module whose default export is an async function from one frame to
// its result. The frame: { jpeg (Buffer, the JPEG as the camera sent it), topic, session, seq,
// captureUs (epoch microseconds, 0 = unknown), width, height }. The result: { result: a JSON
// object (the body every receiver of results gets), image: an optional JPEG Buffer }. Boxes in
// result.boxes ([{ x, y, w, h, label }], in the frame's pixels) are drawn by the viewer.
//
// This one measures the frame's mean brightness with sharp (a zerocam dependency) and boxes the
// brightest of a 4x4 grid of tiles. Set BRIGHTNESS_DELAY_MS to make it slow on purpose.
/* global process, setTimeout */
import sharp from 'sharp';

const GRID = 4;

export default async function brightness(frame) {
  const delay = Number(process.env.BRIGHTNESS_DELAY_MS ?? 0);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  const { data } = await sharp(frame.jpeg).greyscale().resize(GRID, GRID, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const tiles = [...data];
  const mean = tiles.reduce((sum, v) => sum + v, 0) / tiles.length;
  const brightest = tiles.indexOf(Math.max(...tiles));
  const w = Math.floor(frame.width / GRID);
  const h = Math.floor(frame.height / GRID);
  const box = { x: (brightest % GRID) * w, y: Math.floor(brightest / GRID) * h, w, h, label: `bright ${tiles[brightest]}` };
  return { result: { mean: Math.round(mean * 10) / 10, boxes: [box] } };
}
