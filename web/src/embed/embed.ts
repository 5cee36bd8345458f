// embed.js: the script a portal page adds to open Causerie's chat in a
// floating window (see docs/web-client.md for the snippet).
//
//   <script src="https://chat.example.org/embed.js" defer></script>
//   <a href="https://chat.example.org/" data-causerie-chat>Chat</a>
//
// A click on any element with `data-causerie-chat` opens the window (an
// iframe of the client, from the origin this script came from), or brings it
// back if it was reduced. « Réduire » hides it and keeps the conversation
// going; « Fermer » closes it (and signs out). `window.Causerie.open()` /
// `.reduce()` / `.close()` do the same from the portal's own code.
//
// Unread messages: every `data-causerie-chat` element gets a badge with the
// count of unread messages (hidden at 0), and the portal hears of it by
// `window.Causerie.onUnread = (count) => …` and by a `causerie:unread` event
// on `document` (`event.detail.count`). The client and this script talk by
// postMessage, each checking the other's origin: the client sends
// `{ source: 'causerie', type: 'unread', count }`; this script sends
// `{ source: 'causerie-embed', type: 'visibility', visible }` when the
// window is reduced or shown (a reduced window counts as not seen).
//
// « tu » or « vous »: the portal knows who is signed in to it; a
// `data-register="tu"` (a pupil) or `"vous"` on this script's tag is passed
// to the client, which speaks so on its login page (once signed in, the
// directory's profile decides). Anything else is ignored.
//
// The portal's single sign-on (docs/portal-integration.md): inside the window the
// client signs in with the portal's session, no second login screen. A
// `data-preload` on this script's tag loads the window hidden with the page, so
// that the badge counts unread messages before the user opens it. The portal's
// log-out: `window.Causerie.signOut()` signs the chat out and closes the window
// (the CAS server's single log-out does it too, from the server's side); when
// the chat signs out by itself, the portal hears `causerie:signed-out` on
// `document`.
//
// It is a classic script (no modules) and styles its elements through the
// CSSOM only, so that the portal's Content-Security-Policy needs no
// 'unsafe-inline'.

(() => {
  const script = document.currentScript as HTMLScriptElement | null;
  const origin = script?.src ? new URL(script.src, location.href).origin : location.origin;
  const asked = script?.dataset.register;
  const register = asked === 'tu' || asked === 'vous' ? `&register=${asked}` : '';
  const english = (document.documentElement.lang || navigator.language || 'fr')
    .toLowerCase()
    .startsWith('en');
  const text = english
    ? { title: 'Chat', reduce: 'Minimise', close: 'Close' }
    : { title: 'Chat', reduce: 'Réduire', close: 'Fermer' };
  const unreadText = (n: number) =>
    english ? `(${n} unread message${n > 1 ? 's' : ''})` : `(${n} message${n > 1 ? 's' : ''} non lu${n > 1 ? 's' : ''})`;
  let unread = 0;
  const api: {
    open: typeof open;
    reduce: typeof reduce;
    close: typeof close;
    signOut: typeof signOut;
    unread: () => number;
    onUnread?: (count: number) => void;
  } = { open, reduce, close, signOut, unread: () => unread };

  let win: HTMLElement | null = null;
  let opener: HTMLElement | null = null;

  const style = (el: HTMLElement, css: Partial<CSSStyleDeclaration>) => Object.assign(el.style, css);

  function button(label: string, onClick: () => void): HTMLButtonElement {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    style(b, {
      font: 'inherit',
      color: '#fff',
      background: 'transparent',
      border: '1px solid rgba(255,255,255,.7)',
      borderRadius: '6px',
      padding: '2px 10px',
      cursor: 'pointer',
    });
    b.addEventListener('click', onClick);
    return b;
  }

  /** The window; `preloaded`: loaded hidden with the page (the client starts reduced). */
  function build(preloaded = false): HTMLElement {
    const w = document.createElement('section');
    w.setAttribute('role', 'dialog');
    w.setAttribute('aria-modal', 'false');
    w.setAttribute('aria-label', text.title);
    w.dataset.causerieWindow = '';
    style(w, {
      position: 'fixed',
      right: '16px',
      bottom: '16px',
      width: 'min(900px, calc(100vw - 32px))',
      height: 'min(620px, calc(100vh - 32px))',
      display: 'flex',
      flexDirection: 'column',
      zIndex: '2147483000',
      background: '#fff',
      border: '1px solid #8c959f',
      borderRadius: '10px',
      boxShadow: '0 12px 40px rgba(0,0,0,.3)',
      overflow: 'hidden',
      font: '15px system-ui, sans-serif',
    });
    const bar = document.createElement('div');
    style(bar, {
      display: 'flex',
      alignItems: 'center',
      gap: '8px',
      padding: '6px 10px',
      background: '#163d70',
      color: '#fff',
    });
    const title = document.createElement('h2');
    title.textContent = text.title;
    style(title, { margin: '0', fontSize: '15px', flex: '1' });
    bar.append(title, button(text.reduce, reduce), button(text.close, close));
    const frame = document.createElement('iframe');
    frame.title = text.title;
    const reduced = preloaded ? '&reduced=1' : '';
    frame.src = `${origin}/?embedded=1&portal=${encodeURIComponent(location.origin)}${register}${reduced}`;
    style(frame, { flex: '1', border: '0', width: '100%' });
    w.append(bar, frame);
    w.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') reduce();
    });
    return w;
  }

  function open(from?: HTMLElement): void {
    opener = from ?? (document.activeElement as HTMLElement | null);
    if (!win) {
      win = build();
      document.body.append(win);
    }
    win.hidden = false;
    win.style.display = 'flex';
    win.querySelector('iframe')?.focus();
    tellVisible(true);
  }

  function tellVisible(visible: boolean): void {
    win?.querySelector('iframe')?.contentWindow?.postMessage({ source: 'causerie-embed', type: 'visibility', visible }, origin);
  }

  /** The count on every « Chat » entry: a visible number and a text for screen readers. */
  function showUnread(count: number): void {
    unread = count;
    for (const trigger of Array.from(document.querySelectorAll<HTMLElement>('[data-causerie-chat]'))) {
      let badge = trigger.querySelector<HTMLElement>('[data-causerie-badge]');
      if (count <= 0) {
        badge?.remove();
        continue;
      }
      if (!badge) {
        badge = document.createElement('span');
        badge.dataset.causerieBadge = '';
        const number = document.createElement('span');
        number.setAttribute('aria-hidden', 'true');
        style(number, {
          display: 'inline-block',
          minWidth: '1.4em',
          marginLeft: '0.4em',
          padding: '0 0.35em',
          borderRadius: '0.7em',
          background: '#c5221f',
          color: '#fff',
          fontSize: '0.8em',
          fontWeight: '700',
          lineHeight: '1.4em',
          textAlign: 'center',
        });
        const said = document.createElement('span');
        style(said, {
          position: 'absolute',
          width: '1px',
          height: '1px',
          overflow: 'hidden',
          clip: 'rect(0, 0, 0, 0)',
          whiteSpace: 'nowrap',
        });
        badge.append(number, said);
        trigger.append(badge);
      }
      badge.children[0].textContent = String(count);
      badge.children[1].textContent = ` ${unreadText(count)}`;
    }
    try {
      api.onUnread?.(count);
    } catch {
      // The portal's callback is its own business.
    }
    document.dispatchEvent(new CustomEvent('causerie:unread', { detail: { count } }));
  }

  window.addEventListener('message', (e) => {
    const frame = win?.querySelector('iframe');
    if (!frame || e.source !== frame.contentWindow || e.origin !== origin) return;
    const data = e.data as { source?: unknown; type?: unknown; count?: unknown } | null;
    if (data?.source !== 'causerie') return;
    if (data.type === 'signed-out') {
      showUnread(0);
      document.dispatchEvent(new CustomEvent('causerie:signed-out'));
      return;
    }
    if (data.type !== 'unread' || typeof data.count !== 'number') return;
    showUnread(Math.max(0, Math.floor(data.count)));
  });

  /** The portal signs out: the chat in the window too, then the window goes. */
  function signOut(): void {
    const frame = win?.querySelector('iframe');
    frame?.contentWindow?.postMessage({ source: 'causerie-embed', type: 'sign-out' }, origin);
    // The client needs a moment to say goodbye before its page goes.
    window.setTimeout(close, 300);
  }

  function reduce(): void {
    if (!win) return;
    win.hidden = true;
    win.style.display = 'none';
    tellVisible(false);
    opener?.focus();
  }

  function close(): void {
    win?.remove();
    win = null;
    showUnread(0);
    opener?.focus();
  }

  document.addEventListener('click', (e) => {
    // The portal's own « Se déconnecter » may carry `data-causerie-sign-out`: the chat
    // signs out first, then the link is followed.
    const leaving = (e.target as Element | null)?.closest?.<HTMLElement>('[data-causerie-sign-out]');
    if (leaving) {
      signOut();
      const href = leaving.getAttribute('href');
      if (href) {
        e.preventDefault();
        window.setTimeout(() => location.assign(href), 400);
      }
      return;
    }
    const trigger = (e.target as Element | null)?.closest?.<HTMLElement>('[data-causerie-chat]');
    if (!trigger) return;
    e.preventDefault();
    open(trigger);
  });

  if (script?.dataset.preload !== undefined) {
    // Loaded with the page, hidden: the badge counts from the start.
    const load = () => {
      if (win) return;
      win = build(true);
      win.hidden = true;
      win.style.display = 'none';
      document.body.append(win);
    };
    if (document.body) load();
    else document.addEventListener('DOMContentLoaded', load);
  }

  (window as unknown as { Causerie: typeof api }).Causerie = api;
})();
