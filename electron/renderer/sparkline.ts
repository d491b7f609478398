interface Point {
  atMs: number;
  latencyMs: number;
}

/** Draws the last few seconds of latency as a line, scaled to its own maximum, on a small canvas. */
export function drawSparkline(canvas: HTMLCanvasElement, points: readonly Point[], nowMs: number, spanMs: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = 'rgba(0, 0, 0, 0.35)';
  ctx.fillRect(0, 0, width, height);
  if (points.length < 2) return;
  const max = Math.max(1, ...points.map((p) => p.latencyMs)) * 1.1;
  ctx.strokeStyle = '#4ade80';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach((p, i) => {
    const x = width - ((nowMs - p.atMs) / spanMs) * width;
    const y = height - (p.latencyMs / max) * (height - 2) - 1;
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = '#cbd5e1';
  ctx.font = '10px sans-serif';
  ctx.fillText(`${max.toFixed(0)} ms`, 3, 11);
}
