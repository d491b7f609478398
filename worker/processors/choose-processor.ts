import { facesProcessor } from './faces';
import { motionProcessor } from './motion';
import { loadPlugin } from './plugin';
import type { Processor } from './processor';
import { thumbnailProcessor } from './thumbnail';

export const BUILT_IN_PROCESSORS = ['motion', 'faces', 'thumbnail'] as const;

/** --processor NAME|PATH: a built-in processor by name, or a plug-in module by path. */
export async function chooseProcessor(spec: string): Promise<Processor> {
  switch (spec) {
    case 'motion':
      return motionProcessor();
    case 'faces':
      return facesProcessor();
    case 'thumbnail':
      return thumbnailProcessor();
    default:
      return loadPlugin(spec);
  }
}
