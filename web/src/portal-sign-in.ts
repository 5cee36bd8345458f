// The portal's single sign-on in the client (docs/portal-integration.md): when the
// server has a CAS server configured (`sso` in /client.json), the client first asks for
// a login token with the browser's portal session; without one, inside the portal's
// window (`?embedded=1`) it goes through the portal's CAS server at once (a pupil signed
// into the portal comes straight back, signed in: no second login screen), and on the
// full page the sign-in page offers « Se connecter avec l'ENT ». A refused sign-in comes
// back as `#sso-error=CODE`, said in the reader's language.

import type { Model } from './model';
import type { LoginFailure } from './xmpp/connection';

/** When the client last sent the browser to the portal's sign-in (no loop). */
const TRIED = 'causerie-sso-tried';
const RETRY_AFTER_MS = 60_000;

/** The portal's sign-in, coming back to this very page. */
export function portalSignInUrl(sso: string): string {
  return `${sso}?next=${encodeURIComponent(location.pathname + location.search)}`;
}

export function startWithPortal(model: Model): void {
  const sso = model.config.sso;
  if (!sso) return;
  const refused = /^#sso-error=([a-z-]+)$/.exec(location.hash);
  if (refused) {
    history.replaceState(null, '', location.pathname + location.search);
    model.showPortalError(refused[1]);
    return;
  }
  model.loginWithPortal().catch((failure: LoginFailure) => {
    if (failure.kind !== 'portal' || failure.reason !== 'signed-out') return;
    if (!new URLSearchParams(location.search).has('embedded')) return;
    // Once a minute at most: a browser that does not keep the session's cookie must not
    // go round in circles.
    try {
      if (Date.now() - Number(sessionStorage.getItem(TRIED) ?? 0) < RETRY_AFTER_MS) return;
      sessionStorage.setItem(TRIED, String(Date.now()));
    } catch {
      return;
    }
    location.assign(portalSignInUrl(sso));
  });
}
