// Entry point: read the server's client configuration (XMPP domain and
// WebSocket path), then show the login page.

import { render } from 'preact';
import { App } from './app';
import { watchAttention } from './attention';
import { watchIdle } from './idle';
import { ModelContext } from './hooks';
import { lang } from './i18n';
import { type ClientConfig, Model } from './model';
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
  watchAttention(model);
  watchIdle(model);
  render(
    <ModelContext.Provider value={model}>
      <App />
    </ModelContext.Provider>,
    root,
  );
});
