// ENT groups of a structure: the list and « Créer le groupe »; one group's
// page: rename, members (remove; add by searching the directory), delete,
// and the pairs of people only this group connects.

import { useState } from 'preact/hooks';
import { type Group, type User, api } from './api';
import { lang, profileName, t } from './i18n';
import {
  Confirm,
  ErrorText,
  Loading,
  Modal,
  ScreenHeading,
  announce,
  go,
  href,
  invalid,
  localError,
  useLoad,
  useUid,
} from './ui';

export function GroupsScreen({ sid }: { sid: string }) {
  const { data, error, reload } = useLoad(() => api.groups(sid), [sid]);
  return (
    <>
      <ScreenHeading>{t('groupsHeading')}</ScreenHeading>
      <p>{t('groupsIntro')}</p>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && data.length === 0 && <p class="empty">{t('groupsNone')}</p>}
      {data && data.length > 0 && (
        <table class="data">
          <caption>{t('groupsCaption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('colGroup')}</th>
              <th scope="col">{t('colMembers')}</th>
              <th scope="col">{t('colActions')}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((g) => (
              <tr key={g.id}>
                <th scope="row">{g.name}</th>
                <td class="num">{g.members.length}</td>
                <td>
                  <a class="button" href={href('s', sid, 'groups', g.id)} aria-label={t('groupOpenNamed', { name: g.name })}>
                    {t('groupOpen')}
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <CreateGroup sid={sid} onCreated={reload} />
    </>
  );
}

function CreateGroup({ sid, onCreated }: { sid: string; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const inputId = useUid('group-name');
  const errorId = useUid('group-name-error');
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) {
      setError(localError('name', t('groupNameMissing')));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const g = await api.createGroup(sid, name.trim());
      setName('');
      announce(t('groupCreated', { name: g.name }));
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby={`${inputId}-h`}>
      <h2 id={`${inputId}-h`}>{t('groupCreateHeading')}</h2>
      <form onSubmit={submit} noValidate class="inline-form">
        <div class="field">
          <label for={inputId}>{t('groupName')}</label>
          <input
            id={inputId}
            type="text"
            value={name}
            maxLength={200}
            {...invalid(error, errorId)}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </div>
        <button type="submit" class="primary" disabled={busy}>
          {t('groupCreate')}
        </button>
      </form>
      <ErrorText error={error} id={errorId} />
    </section>
  );
}

export function GroupScreen({ sid, gid }: { sid: string; gid: string }) {
  const { data, error, reload } = useLoad(() => api.groups(sid), [sid]);
  const group = data?.find((g) => g.id === gid);
  const [renaming, setRenaming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [removing, setRemoving] = useState<User | null>(null);
  const [reachKey, setReachKey] = useState(0);
  const changed = () => {
    reload();
    setReachKey((n) => n + 1);
  };
  return (
    <>
      <p>
        <a href={href('s', sid, 'groups')}>{t('groupBack')}</a>
      </p>
      {group ? <ScreenHeading>{t('groupHeading', { name: group.name })}</ScreenHeading> : <ScreenHeading>{t('groupsHeading')}</ScreenHeading>}
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && !group && <ErrorText error={localError(undefined, t('groupNotFound'))} />}
      {group && (
        <>
          <div class="buttons left">
            <button type="button" onClick={() => setRenaming(true)}>
              {t('groupRename')}
            </button>
            <button type="button" class="danger" onClick={() => setDeleting(true)}>
              {t('groupDelete')}
            </button>
          </div>
          <Members group={group} onRemove={setRemoving} />
          <AddMembers sid={sid} group={group} onAdded={changed} />
          <GroupReach key={reachKey} gid={group.id} />
          {renaming && (
            <RenameDialog
              group={group}
              onClose={() => setRenaming(false)}
              onDone={(name) => {
                setRenaming(false);
                announce(t('groupRenamed', { name }));
                reload();
              }}
            />
          )}
          {deleting && (
            <Confirm
              title={t('groupDelete')}
              text={t('groupDeleteConfirm', { name: group.name })}
              onClose={() => setDeleting(false)}
              onYes={async () => {
                await api.deleteGroup(group.id);
                announce(t('groupDeleted', { name: group.name }));
                go('s', sid, 'groups');
              }}
            />
          )}
          {removing && (
            <Confirm
              title={t('memberRemoveNamed', { name: removing.name })}
              text={`${t('memberRemoveNamed', { name: removing.name })} ?`}
              onClose={() => setRemoving(null)}
              onYes={async () => {
                await api.removeMember(group.id, removing.login);
                announce(t('memberRemoved', { name: removing.name }));
                setRemoving(null);
                changed();
              }}
            />
          )}
        </>
      )}
    </>
  );
}

function Members({ group, onRemove }: { group: Group; onRemove: (u: User) => void }) {
  if (group.members.length === 0) return <p class="empty">{t('groupNoMembers')}</p>;
  return (
    <table class="data">
      <caption>{t('groupMembersCaption')}</caption>
      <thead>
        <tr>
          <th scope="col">{t('colName')}</th>
          <th scope="col">{t('colLogin')}</th>
          <th scope="col">{t('colProfile')}</th>
          <th scope="col">{t('colClasses')}</th>
          <th scope="col">{t('colActions')}</th>
        </tr>
      </thead>
      <tbody>
        {[...group.members].sort((a, b) => a.name.localeCompare(b.name, lang)).map((u) => (
          <tr key={u.login}>
            <th scope="row">{u.name}</th>
            <td>{u.login}</td>
            <td>{profileName(u.profile)}</td>
            <td>{(u.classes ?? []).join(', ')}</td>
            <td>
              <button type="button" aria-label={t('memberRemoveNamed', { name: u.name })} onClick={() => onRemove(u)}>
                {t('memberRemove')}
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function AddMembers({ sid, group, onAdded }: { sid: string; group: Group; onAdded: () => void }) {
  const [q, setQ] = useState('');
  const [results, setResults] = useState<User[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const inputId = useUid('member-search');
  const errorId = useUid('member-error');
  const headingId = useUid('member-h');
  const search = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setResults(await api.users(q.trim(), sid, 20));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const members = new Set(group.members.map((m) => m.login));
  return (
    <section class="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('memberAddHeading')}</h2>
      <form role="search" onSubmit={search} noValidate class="inline-form">
        <div class="field">
          <label for={inputId}>{t('memberSearch')}</label>
          <input
            id={inputId}
            type="search"
            value={q}
            {...invalid(error, errorId)}
            onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          />
        </div>
        <button type="submit" disabled={busy}>
          {t('search')}
        </button>
      </form>
      <ErrorText error={error} id={errorId} />
      {busy && <p class="hint">{t('searching')}</p>}
      {results && (
        <>
          <p class="hint" role="status">
            {results.length === 0 ? t('searchNone') : t('searchCount', { n: results.length })}
          </p>
          {results.length > 0 && (
            <ul class="results">
              {results.map((u) => (
                <li key={u.login}>
                  <span class="result-name">{u.name}</span>{' '}
                  <span class="hint">
                    {profileName(u.profile)}
                    {u.classes?.length ? ` · ${u.classes.join(', ')}` : ''} · {u.login}
                  </span>{' '}
                  {members.has(u.login) ? (
                    <span class="hint">({t('memberAlready')})</span>
                  ) : (
                    <button
                      type="button"
                      aria-label={t('memberAddNamed', { name: u.name })}
                      onClick={async () => {
                        setError(null);
                        try {
                          await api.addMember(group.id, u.login);
                          announce(t('memberAdded', { name: u.name }));
                          onAdded();
                        } catch (err) {
                          setError(err);
                        }
                      }}
                    >
                      {t('memberAdd')}
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

function RenameDialog({ group, onClose, onDone }: { group: Group; onClose: () => void; onDone: (name: string) => void }) {
  const [name, setName] = useState(group.name);
  const [error, setError] = useState<unknown>(null);
  const inputId = useUid('rename');
  const errorId = useUid('rename-error');
  return (
    <Modal title={t('groupRenameHeading')} onClose={onClose}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if (!name.trim()) {
            setError(localError('name', t('groupNameMissing')));
            return;
          }
          try {
            const g = await api.renameGroup(group.id, name.trim());
            onDone(g?.name ?? name.trim());
          } catch (err) {
            setError(err);
          }
        }}
      >
        <div class="field">
          <label for={inputId}>{t('groupNewName')}</label>
          <input
            id={inputId}
            type="text"
            value={name}
            data-autofocus
            maxLength={200}
            {...invalid(error, errorId)}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </div>
        <ErrorText error={error} id={errorId} />
        <div class="buttons">
          <button type="submit" class="primary">
            {t('save')}
          </button>
          <button type="button" onClick={onClose}>
            {t('cancel')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

const REACH_SHOWN = 100;

function GroupReach({ gid }: { gid: string }) {
  const { data, error } = useLoad(() => api.groupReach(gid), [gid]);
  const headingId = useUid('reach-h');
  return (
    <section class="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('groupReachHeading')}</h2>
      <p class="hint">{t('groupReachIntro')}</p>
      <ErrorText error={error} />
      {!data && !error && <Loading />}
      {data && data.length === 0 && <p class="empty">{t('groupReachNone')}</p>}
      {data && data.length > 0 && (
        <>
          <table class="data">
            <caption>{t('groupReachCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('colFrom')}</th>
                <th scope="col">{t('colTo')}</th>
              </tr>
            </thead>
            <tbody>
              {data.slice(0, REACH_SHOWN).map((p) => (
                <tr key={`${p.from.login} ${p.to.login}`}>
                  <td>
                    {p.from.name} <span class="hint">({profileName(p.from.profile)})</span>
                  </td>
                  <td>
                    {p.to.name} <span class="hint">({profileName(p.to.profile)})</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.length > REACH_SHOWN && <p class="hint">{t('groupReachMore', { n: data.length - REACH_SHOWN })}</p>}
        </>
      )}
    </section>
  );
}
