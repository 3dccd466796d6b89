import type { Attachment } from 'svelte/attachments';
import type { Flash } from './highlights';

export const FLASH_MS = 1500;

// The newest seq each row has played, so re-running the attachment for the
// same change (or after the entry was trimmed) plays nothing.
const played = new WeakMap<Element, { seq: number; animation: Animation | null }>();

/**
 * Highlights a table row once per change: a green (add) or yellow (update)
 * overlay that fades out, with `data-flash` set on the row meanwhile.
 */
export function flashRow(flash: Flash | undefined): Attachment<HTMLElement> {
  return (row) => {
    if (flash === undefined) return;
    const last = played.get(row);
    if (last !== undefined && last.seq >= flash.seq) return;
    last?.animation?.cancel();

    row.dataset.flash = flash.kind;
    const done = () => {
      if (played.get(row)?.seq === flash.seq) delete row.dataset.flash;
    };
    if (typeof row.animate !== 'function') {
      played.set(row, { seq: flash.seq, animation: null });
      setTimeout(done, FLASH_MS);
      return;
    }
    // The colour sits on the row's ::after overlay (see DataTable.svelte), and
    // only its opacity is animated: the compositor runs that without a style
    // recalculation per frame, which a background-colour animation would need.
    const animation = row.animate([{ opacity: 1 }, { opacity: 1, offset: 0.25 }, { opacity: 0 }], {
      duration: FLASH_MS,
      easing: 'ease-out',
      pseudoElement: '::after',
    });
    played.set(row, { seq: flash.seq, animation });
    animation.onfinish = done;
    animation.oncancel = done;
  };
}
