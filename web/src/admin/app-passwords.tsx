// A user's app passwords on his card (« Mots de passe d'application »): the school
// makes one for a standard XMPP app (the secret is shown once, to hand to him),
// lists them with their last use, and revokes one (its sessions end). The admin
// API's /users/{login}/app-passwords (docs/admin-api.md).

import { useState } from 'preact/hooks';
import { type AppPassword, type NewAppPassword, api } from './api';
import { t } from './i18n';
import { Confirm, ErrorText, announce, invalid, useLoad, useUid } from './ui';

const when = (ms: number | null) => (ms === null ? t('appPasswordsNever') : new Date(ms).toLocaleString());

export function AppPasswords({ login, name }: { login: string; name: string }) {
  const headingId = useUid('app-passwords');
  const labelId = useUid('app-password-label');
  const errorId = useUid('app-password-error');
  const { data, error, setData } = useLoad(() => api.appPasswords(login), [login]);
  const [label, setLabel] = useState('');
  const [made, setMade] = useState<NewAppPassword | null>(null);
  const [revoking, setRevoking] = useState<AppPassword | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const create = async (e: Event) => {
    e.preventDefault();
    setActionError(null);
    setBusy(true);
    try {
      const m = await api.createAppPassword(login, label.trim());
      setMade(m);
      setLabel('');
      setData(await api.appPasswords(login));
      announce(t('appPasswordsMade', { label: m.label }));
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('appPasswordsHeading')}</h2>
      <p class="hint">{t('appPasswordsIntro')}</p>
      <ErrorText error={error} />
      {data && !data.allowed && <p>{t('appPasswordsNotAllowed', { name })}</p>}
      {made && (
        <div class="card">
          <p>{t('appPasswordsShowOnce', { label: made.label })}</p>
          <dl>
            <dt>{t('appPasswordsAddress')}</dt>
            <dd>
              <code>{made.jid}</code>
            </dd>
            <dt>{t('appPasswordsSecret')}</dt>
            <dd>
              <code data-testid="app-password-secret">{made.secret}</code>
            </dd>
          </dl>
          <button type="button" onClick={() => setMade(null)}>
            {t('appPasswordsHide')}
          </button>
        </div>
      )}
      {data && data.items.length > 0 && (
        <table class="data">
          <caption>{t('appPasswordsCaption', { n: data.items.length, max: data.max })}</caption>
          <thead>
            <tr>
              <th scope="col">{t('appPasswordsLabel')}</th>
              <th scope="col">{t('appPasswordsCreated')}</th>
              <th scope="col">{t('appPasswordsLastUsed')}</th>
              <th scope="col">{t('appPasswordsActions')}</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((p) => (
              <tr key={p.id}>
                <th scope="row">{p.label}</th>
                <td>
                  {when(p.created_ms)}
                  {p.created_by ? ` (${p.created_by})` : ''}
                </td>
                <td>{when(p.last_used_ms)}</td>
                <td>
                  <button
                    type="button"
                    class="danger"
                    aria-label={t('appPasswordsRevokeOne', { label: p.label })}
                    onClick={() => setRevoking(p)}
                  >
                    {t('appPasswordsRevoke')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && data.allowed && (
        <form class="inline-form" onSubmit={create} noValidate>
          <div class="field">
            <label for={labelId}>{t('appPasswordsNewLabel')}</label>
            <input
              id={labelId}
              type="text"
              maxLength={64}
              value={label}
              {...invalid(actionError, errorId)}
              onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
            />
          </div>
          <button type="submit" disabled={busy || !label.trim()}>
            {t('appPasswordsCreate')}
          </button>
        </form>
      )}
      <ErrorText error={actionError} id={errorId} />
      {revoking && (
        <Confirm
          title={t('appPasswordsRevoke')}
          text={t('appPasswordsRevokeConfirm', { label: revoking.label, name })}
          onClose={() => setRevoking(null)}
          onYes={async () => {
            setData(await api.revokeAppPassword(login, revoking.id));
            announce(t('appPasswordsRevoked', { label: revoking.label }));
            setRevoking(null);
            setMade(null);
          }}
        />
      )}
    </section>
  );
}
