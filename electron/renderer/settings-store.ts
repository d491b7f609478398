import type { ConnectRequest } from '../../common/viewer/viewer-messages';

const KEY = 'zerocam.viewer.v1';

export interface StoredSettings {
  /** The connections open when the viewer was last used. */
  connections: ConnectRequest[];
}

/** Remembers the last connections between runs (localStorage works in Electron and in browsers). */
export const settingsStore = {
  load(): StoredSettings {
    try {
      const parsed = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<StoredSettings>;
      return { connections: Array.isArray(parsed.connections) ? parsed.connections : [] };
    } catch {
      return { connections: [] };
    }
  },
  save(settings: StoredSettings): void {
    try {
      localStorage.setItem(KEY, JSON.stringify(settings));
    } catch {
      // Storage may be disabled (private windows); remembering is a convenience only.
    }
  },
};
