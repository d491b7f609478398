/** What a processor is given: one frame, as the hub handed it out. */
export interface WorkFrame {
  /** The JPEG exactly as the camera sent it. */
  jpeg: Buffer;
  topic: string;
  session: number;
  seq: number;
  /** Capture time, epoch microseconds (the sender's clock); 0 = unknown. */
  captureUs: number;
  width: number;
  height: number;
}

/** What it returns: a JSON object (the result's body) and, optionally, a JPEG (a thumbnail, an annotated frame). */
export interface ProcessorOutput {
  result: Record<string, unknown>;
  image?: Buffer | undefined;
}

/** A processor: built in (motion, faces, thumbnail) or a plug-in module. One call per frame; calls may overlap (--jobs). */
export interface Processor {
  readonly name: string;
  process(frame: WorkFrame): Promise<ProcessorOutput>;
  close?(): void;
}

/** A box in frame pixels, as the viewer draws it. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  label?: string;
}
