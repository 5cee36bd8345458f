// Entry point: read the server's client configuration (XMPP domain, WebSocket
// path, the portal's single sign-on), then show the login page, or sign in
// through the portal.

import { render } from 'preact';
import { App } from './app';
import { watchAttention } from './attention';
import { watchIdle } from './idle';
import { ModelContext } from './hooks';
import { lang, registerHint, registerOf, setRegister } from './i18n';
import { type ClientConfig, Model } from './model';
import { startWithPortal } from './portal-sign-in';
import './shared/base.css';
import './styles.css';

async function clientConfig(): Promise<ClientConfig> {
  const fallback: ClientConfig = { domain: location.hostname, websocket: '/xmpp-websocket' };
  try {
    const r = await fetch('/client.json', { headers: { accept: 'application/json' } });
    if (!r.ok) return fallback;
    const c = (await r.json()) as Partial<ClientConfig>;
    return {
      domain: typeof c.domain === 'string' && c.domain ? c.domain : fallback.domain,
      websocket: typeof c.websocket === 'string' && c.websocket ? c.websocket : fallback.websocket,
      upload: typeof c.upload === 'string' && c.upload ? c.upload : undefined,
      sso: typeof c.sso === 'string' && c.sso.startsWith('/') ? c.sso : undefined,
    };
  } catch {
    return fallback;
  }
}

document.documentElement.lang = lang;
if (new URLSearchParams(location.search).has('embedded')) {
  document.documentElement.classList.add('embedded');
}

const root = document.getElementById('app')!;
clientConfig().then((config) => {
  const model = new Model({ ...config, lang });
  // « tu » or « vous »: the portal's hint until the directory's profile is known.
  const hint = registerHint(location.search) ?? 'vous';
  const speak = () => setRegister(model.profile === undefined ? hint : registerOf(model.profile ?? undefined));
  speak();
  // Before the screens hear of a change (they subscribe when rendered, after this).
  model.subscribe(speak);
  watchAttention(model);
  watchIdle(model);
  startWithPortal(model);
  render(
    <ModelContext.Provider value={model}>
      <App />
    </ModelContext.Provider>,
    root,
  );
});
