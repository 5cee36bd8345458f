// Getting the user's attention from outside the conversations: the unread
// count in the page title, and, inside the portal's floating window
// (`?embedded=1`), the bridge to embed.js: the client tells the portal its
// unread count (for the badge on « Chat »), the portal tells the client when
// its window is reduced or shown again (see docs/web-client.md, « Unread
// messages: the portal's API »); and, while the window is hidden, a desktop
// notification and a short sound for each new message, when the user turned
// them on in « Réglages » (the browser's permission is asked then, never at
// load).

import { t } from './i18n';
import type { Conversation, Line, Model } from './model';

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
  // A window the portal loaded hidden with its page (embed.js's `data-preload`) starts reduced.
  let reduced = new URLSearchParams(location.search).get('reduced') === '1' && window.parent !== window;
  const visibility = () => model.setHidden(pageHidden() || reduced);
  document.addEventListener('visibilitychange', visibility);
  visibility();

  const params = new URLSearchParams(location.search);
  const portal = params.has('embedded') && window.parent !== window ? portalOrigin(params.get('portal')) : undefined;
  let sent = 0;
  let wasOnline = false;
  const bridge = () => {
    if (!portal) return;
    // Signed out (« Se déconnecter », or the portal's session ended): the portal hears it.
    if (model.status === 'online') wasOnline = true;
    else if (model.status === 'signed-out' && wasOnline) {
      wasOnline = false;
      window.parent.postMessage({ source: EMBED.fromClient, type: 'signed-out' }, portal);
    }
    const count = model.status === 'signed-out' ? 0 : model.unreadTotal();
    if (count === sent) return;
    sent = count;
    window.parent.postMessage({ source: EMBED.fromClient, type: 'unread', count }, portal);
  };
  if (portal) {
    window.addEventListener('message', (e) => {
      if (e.source !== window.parent || e.origin !== portal) return;
      const data = e.data as { source?: unknown; type?: unknown; visible?: unknown } | null;
      if (data?.source !== EMBED.fromPortal) return;
      if (data.type === 'sign-out') {
        // The portal signs out (`Causerie.signOut()`): so does the chat.
        if (model.status !== 'signed-out') model.logout();
        return;
      }
      if (data.type !== 'visibility') return;
      reduced = data.visible === false;
      visibility();
    });
  }

  model.onIncoming((conv, line) => {
    if (!model.hidden) return;
    if (model.prefs.notify) desktopNotification(model, conv, line);
    if (model.prefs.sound) chime();
  });

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

/** Whether this browser can show desktop notifications at all. */
export const notificationsSupported = () => typeof Notification !== 'undefined';

/**
 * Asks the browser's permission (from a click in « Réglages »): true when
 * granted. A refusal is the browser's to remember; we do not ask again by
 * ourselves.
 */
export async function askNotificationPermission(): Promise<boolean> {
  if (!notificationsSupported()) return false;
  if (Notification.permission === 'granted') return true;
  if (Notification.permission === 'denied') return false;
  try {
    return (await Notification.requestPermission()) === 'granted';
  } catch {
    return false;
  }
}

function desktopNotification(model: Model, conv: Conversation, line: Line): void {
  if (!notificationsSupported() || Notification.permission !== 'granted') return;
  const from = conv.kind === 'room' ? t('notifyRoom', { room: model.rooms.title(conv), name: line.who ?? '' }) : model.displayName(conv.jid);
  try {
    const n = new Notification(from, { body: line.text ?? '', tag: conv.jid, lang: document.documentElement.lang });
    n.onclick = () => {
      window.focus();
      model.showConversation(conv.jid);
      n.close();
    };
  } catch {
    // Some browsers only notify from a service worker: the title's count stays.
  }
}

let audio: AudioContext | undefined;

/** A short, soft two-note chime (no sound file to fetch). */
function chime(): void {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    for (const [i, freq] of [660, 880].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.15);
      gain.gain.exponentialRampToValueAtTime(0.15, now + i * 0.15 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.15 + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.15);
      osc.stop(now + i * 0.15 + 0.32);
    }
  } catch {
    // No audio here.
  }
}
