// « Collectivités »: the régions, départements and communes the caller
// administers (every one for the super-administrator), one collectivité's
// access to the chat service (above its schools' own), its schools with their
// own and effective access, and — super-administrator only — who administers it.
// Nothing here shows a user of those schools.

import { useState } from 'preact/hooks';
import { type Access, type Collectivite, type Profile, type Session, api } from './api';
import { profilesName, t, tk } from './i18n';
import { AccessForm } from './structure';
import {
  Confirm,
  ErrorText,
  Loading,
  ScreenHeading,
  announce,
  errorFor,
  href,
  invalid,
  localError,
  useLoad,
  useUid,
} from './ui';

const names = (ps: Profile[]) => ps.map(profilesName).join(', ');

/** « Activé (Élèves, Enseignants) » or « Désactivé ». */
export function accessText(a: Access): string {
  if (!a.enabled) return t('chatOff');
  return a.profiles.length === 5 ? t('chatOn') : `${t('chatOn')} (${names(a.profiles)})`;
}

export function CollectivitesScreen() {
  const { data, error } = useLoad(() => api.collectivites(), []);
  return (
    <>
      <ScreenHeading>{t('collectivitesHeading')}</ScreenHeading>
      <p>{t('collectivitesIntro')}</p>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && data.length === 0 && <p class="empty">{t('noCollectivite')}</p>}
      {data && data.length > 0 && (
        <table class="data">
          <caption>{t('collectivitesCaption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('colCollectivite')}</th>
              <th scope="col">{t('colKind')}</th>
              <th scope="col">{t('colChat')}</th>
              <th scope="col">{t('colStructures')}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((c) => (
              <tr key={c.id}>
                <th scope="row">
                  <a href={href('c', c.id)}>{c.name}</a>
                </th>
                <td>{tk('kind_', c.kind)}</td>
                <td>{accessText(c.access)}</td>
                <td class="num">{c.structures.length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function CollectiviteScreen({ cid, session }: { cid: string; session: Session }) {
  const { data, error } = useLoad(() => api.collectivite(cid), [cid]);
  return (
    <>
      <ScreenHeading>{data ? `${data.name} (${tk('kind_', data.kind)})` : t('collectivitesHeading')}</ScreenHeading>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && <CollectiviteDetail initial={data} />}
      {data && session.role === 'super' && <CollectiviteAdmins cid={cid} />}
    </>
  );
}

function CollectiviteDetail({ initial }: { initial: Collectivite }) {
  const [c, setC] = useState(initial);
  return (
    <>
      <section class="panel" aria-labelledby="collectivite-access">
        <h2 id="collectivite-access">{t('collectiviteAccessHeading')}</h2>
        <p>{t('collectiviteAccessIntro')}</p>
      </section>
      <AccessForm
        initial={c.access}
        label={t('collectiviteEnabled')}
        saved={t('collectiviteSaved')}
        save={async (enabled, profiles) => {
          const next = await api.setCollectiviteAccess(c.id, enabled, profiles);
          setC(next);
          return next.access;
        }}
      />
      {c.structures.length === 0 ? (
        <p class="empty">{t('collectiviteNoStructure')}</p>
      ) : (
        <table class="data">
          <caption>{t('collectiviteStructures')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('colStructure')}</th>
              <th scope="col">{t('colUai')}</th>
              <th scope="col">{t('colOwnAccess')}</th>
              <th scope="col">{t('colEffective')}</th>
            </tr>
          </thead>
          <tbody>
            {c.structures.map((s) => (
              <tr key={s.id}>
                <th scope="row">
                  <a href={href('s', s.id, 'access')}>{s.name}</a>
                </th>
                <td>{s.id}</td>
                <td>{accessText(s.access)}</td>
                <td>{accessText(s.effective)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** The super-administrator names and removes the collectivité's administrators. */
function CollectiviteAdmins({ cid }: { cid: string }) {
  const { data, error, reload } = useLoad(() => api.collectiviteAdmins(cid), [cid]);
  const [login, setLogin] = useState('');
  const [formError, setFormError] = useState<unknown>(null);
  const [revoking, setRevoking] = useState<string | null>(null);
  const ids = { login: useUid('coll-login'), h: useUid('coll-admins') };
  const loginError = errorFor(formError, 'login', ['login']);
  return (
    <section class="panel" aria-labelledby={ids.h}>
      <h2 id={ids.h}>{t('collectiviteAdmins')}</h2>
      <p>{t('collectiviteAdminsIntro')}</p>
      <ErrorText error={error} />
      {data && data.length === 0 && <p class="empty">{t('collectiviteNoAdmin')}</p>}
      {data && data.length > 0 && (
        <ul class="plain">
          {data.map((a) => (
            <li key={a.login}>
              {a.name} ({a.login}){' '}
              <button type="button" onClick={() => setRevoking(a.login)}>
                {t('collectiviteRevoke', { login: a.login })}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        class="inline-form"
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          const l = login.trim();
          if (!l) {
            setFormError(localError('login', t('grantMissing')));
            return;
          }
          setFormError(null);
          try {
            await api.grantCollectivite(cid, l);
            announce(t('collectiviteGranted', { login: l }));
            setLogin('');
            reload();
          } catch (err) {
            setFormError(err);
          }
        }}
      >
        <div class="field">
          <label for={ids.login}>{t('collectiviteGrantLogin')}</label>
          <input
            id={ids.login}
            type="text"
            autocapitalize="none"
            spellcheck={false}
            value={login}
            {...invalid(loginError, `${ids.login}-error`)}
            onInput={(e) => setLogin((e.target as HTMLInputElement).value)}
          />
        </div>
        <button type="submit">{t('collectiviteGrant')}</button>
        <ErrorText error={loginError} id={`${ids.login}-error`} />
        <ErrorText error={errorFor(formError, '', ['login'])} />
      </form>
      {revoking && (
        <Confirm
          title={t('collectiviteRevoke', { login: revoking })}
          text={t('collectiviteRevoke', { login: revoking })}
          onClose={() => setRevoking(null)}
          onYes={async () => {
            await api.revokeCollectivite(cid, revoking);
            announce(t('collectiviteRevoked', { login: revoking }));
            setRevoking(null);
            reload();
          }}
        />
      )}
    </section>
  );
}
