// Automatic « Absent »: after the configured minutes without activity in
// the page (pointer, keys, wheel, touch, the page shown again), the model
// goes « Absent »; any activity brings « Disponible » back. The delay is in
// « Réglages » (10 minutes unless changed; « Jamais » turns it off).

import type { Model } from './model';

const EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'focus'] as const;

export function watchIdle(model: Model): void {
  let last = Date.now();
  const active = () => {
    last = Date.now();
    model.setIdle(false);
  };
  for (const e of EVENTS) window.addEventListener(e, active, { capture: true, passive: true });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') active();
  });
  window.setInterval(() => {
    const minutes = model.awayAfter();
    if (minutes > 0 && Date.now() - last >= minutes * 60_000) model.setIdle(true);
  }, 5_000);
}
