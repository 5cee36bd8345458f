// Getting the user's attention from outside the conversations: the unread
// count in the page title, and, inside the portal's floating window
// (`?embedded=1`), the bridge to embed.js: the client tells the portal its
// unread count (for the badge on « Chat »), the portal tells the client when
// its window is reduced or shown again (see docs/web-client.md, « API du
// portail »).

import { t } from './i18n';
import type { Model } from './model';

/** Messages between embed.js and the client, both ways. */
export const EMBED = { fromClient: 'causerie', fromPortal: 'causerie-embed' } as const;

export function watchAttention(model: Model): void {
  const title = () => {
    const base = model.myName ? `${t('appTitle')} — ${model.myName}` : t('appTitle');
    const n = model.status === 'signed-out' ? 0 : model.unreadTotal();
    const text = n > 0 ? `(${n}) ${base}` : base;
    if (document.title !== text) document.title = text;
  };

  const pageHidden = () => document.visibilityState === 'hidden';
  let reduced = false;
  const visibility = () => model.setHidden(pageHidden() || reduced);
  document.addEventListener('visibilitychange', visibility);
  visibility();

  const params = new URLSearchParams(location.search);
  const portal = params.has('embedded') && window.parent !== window ? portalOrigin(params.get('portal')) : undefined;
  let sent = 0;
  const bridge = () => {
    if (!portal) return;
    const count = model.status === 'signed-out' ? 0 : model.unreadTotal();
    if (count === sent) return;
    sent = count;
    window.parent.postMessage({ source: EMBED.fromClient, type: 'unread', count }, portal);
  };
  if (portal) {
    window.addEventListener('message', (e) => {
      if (e.source !== window.parent || e.origin !== portal) return;
      const data = e.data as { source?: unknown; type?: unknown; visible?: unknown } | null;
      if (data?.source !== EMBED.fromPortal || data.type !== 'visibility') return;
      reduced = data.visible === false;
      visibility();
    });
  }

  model.subscribe(() => {
    title();
    bridge();
  });
  title();
  bridge();
}

/** The portal's origin, given by embed.js; nothing is sent to a page that gave none. */
function portalOrigin(value: string | null): string | undefined {
  if (!value) return undefined;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}
