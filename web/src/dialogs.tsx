// Modal dialogs, on the native <dialog> element (showModal: the rest of the
// page is inert, focus stays inside, Escape cancels): « Créer une
// catégorie », « Renommer la catégorie », « Déplacer vers une autre
// catégorie », « Ajouter contacts », and the « Oui » / « Non » confirmations.

import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { lang, say, t } from './i18n';
import { type Model, type SearchHit, sayError } from './model';
import { uid } from './hooks';
import { askNotificationPermission, notificationsSupported } from './attention';

interface ModalProps {
  title: string;
  onClose: () => void;
  alert?: boolean;
  describedBy?: string;
  children: ComponentChildren;
  class?: string;
}

export function Modal({ title, onClose, alert, describedBy, children, class: cls }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useMemo(() => uid('dialog-title'), []);
  useLayoutEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (!dialog.open) dialog.showModal();
    const autofocus = dialog.querySelector<HTMLElement>('[data-autofocus]');
    autofocus?.focus();
    return () => {
      if (dialog.open) dialog.close();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={`dialog ${cls ?? ''}`}
      role={alert ? 'alertdialog' : undefined}
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

/** The one text field of a naming dialog (a category, a conversation), with its
 *  error announced and tied to it. */
function NameField({
  label,
  ids,
  value,
  onInput,
  error,
}: {
  label: string;
  ids: { input: string; error: string };
  value: string;
  onInput: (value: string) => void;
  error?: string | null;
}) {
  return (
    <>
      <div class="field">
        <label for={ids.input}>{label}</label>
        <input
          id={ids.input}
          type="text"
          maxLength={100}
          value={value}
          data-autofocus
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? ids.error : undefined}
          onInput={(e) => onInput((e.target as HTMLInputElement).value)}
        />
      </div>
      {error && (
        <p id={ids.error} class="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}

function errorMessage(e: unknown): string {
  return say(sayError(e, lang));
}

/** « Créer une catégorie »: a name, then « OK ». */
export function CreateCategoryDialog({
  model,
  onDone,
}: {
  model: Model;
  onDone: (created?: string) => void;
}) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const ids = useMemo(() => ({ input: uid('cat-name'), error: uid('cat-error') }), []);
  const submit = (e: Event) => {
    e.preventDefault();
    try {
      onDone(model.createCategory(name, [t('allContacts'), t('otherContacts')]));
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <Modal title={t('createCategory')} onClose={() => onDone()}>
      <form onSubmit={submit} noValidate>
        <NameField label={t('categoryName')} ids={ids} value={name} onInput={setName} error={error} />
        <div class="buttons">
          <button type="submit" class="primary">
            {t('ok')}
          </button>
          <button type="button" onClick={() => onDone()}>
            {t('cancel')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** « Renommer la catégorie »: the new name (the old one to start with), then « OK ». */
export function RenameCategoryDialog({
  model,
  name: current,
  onDone,
}: {
  model: Model;
  name: string;
  onDone: (renamed?: string) => void;
}) {
  const [name, setName] = useState(current);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ids = useMemo(() => ({ input: uid('cat-rename'), error: uid('cat-rename-error') }), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    try {
      onDone(await model.renameCategory(current, name, [t('allContacts'), t('otherContacts')]));
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal title={t('renameCategoryTitle', { name: current })} onClose={() => onDone()}>
      <form onSubmit={submit} noValidate>
        <NameField label={t('categoryNewName')} ids={ids} value={name} onInput={setName} error={error} />
        <div class="buttons">
          <button type="submit" class="primary" aria-disabled={busy ? 'true' : undefined}>
            {t('ok')}
          </button>
          <button type="button" onClick={() => onDone()}>
            {t('cancel')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/**
 * « Déplacer vers une autre catégorie » (also the keyboard's way to do what
 * a drag and drop does): the categories to choose from, then « Déplacer ».
 * `from`: the category the contact was chosen in (null: « Autres contacts »).
 */
export function MoveContactDialog({
  model,
  jid,
  from,
  onDone,
}: {
  model: Model;
  jid: string;
  from: string | null;
  onDone: (to?: string | null) => void;
}) {
  const contact = model.contacts.get(jid);
  const targets: { value: string; label: string; to: string | null }[] = model
    .categories()
    .filter((c) => c !== from && !contact?.groups.includes(c))
    .map((c) => ({ value: `c:${c}`, label: c, to: c }));
  if (from !== null) targets.push({ value: 'others', label: t('otherContacts'), to: null });
  const [selected, setSelected] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ids = useMemo(() => ({ hint: uid('move-hint'), error: uid('move-error') }), []);
  const name = model.displayName(jid);
  const move = async (e: Event) => {
    e.preventDefault();
    const target = targets.find((x) => x.value === selected);
    if (!target) {
      setError(t('moveChooseFirst'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await model.moveContact(jid, from, target.to);
      onDone(target.to);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal title={t('moveTitle', { name })} onClose={() => onDone()} describedBy={ids.hint}>
      <p id={ids.hint}>{from === null ? t('moveFromOthers', { name }) : t('moveFrom', { name, from })}</p>
      {targets.length === 0 ? (
        <>
          <p class="hint">{t('moveNowhere')}</p>
          <div class="buttons">
            <button type="button" class="primary" data-autofocus onClick={() => onDone()}>
              {t('close')}
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={move} noValidate>
          <fieldset class="results" aria-describedby={error ? ids.error : undefined}>
            <legend>{t('moveTo')}</legend>
            {targets.map((x, i) => (
              <label key={x.value} class="result">
                <input
                  type="radio"
                  name="move-to"
                  value={x.value}
                  checked={selected === x.value}
                  data-autofocus={i === 0 ? true : undefined}
                  onChange={() => setSelected(x.value)}
                />
                <span class="result-name">{x.label}</span>
              </label>
            ))}
          </fieldset>
          {error && (
            <p id={ids.error} class="error" role="alert">
              {error}
            </p>
          )}
          <div class="buttons">
            <button type="submit" class="primary" aria-disabled={busy ? 'true' : undefined}>
              {t('moveButton')}
            </button>
            <button type="button" onClick={() => onDone()}>
              {t('cancel')}
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}

/** « Oui » / « Non ». */
export function ConfirmDialog({
  title,
  text,
  onAnswer,
}: {
  title: string;
  text: string;
  onAnswer: (yes: boolean) => void;
}) {
  const textId = useMemo(() => uid('confirm-text'), []);
  return (
    <Modal title={title} alert describedBy={textId} onClose={() => onAnswer(false)}>
      <p id={textId}>{text}</p>
      <div class="buttons">
        <button type="button" class="primary" onClick={() => onAnswer(true)}>
          {t('yes')}
        </button>
        <button type="button" data-autofocus onClick={() => onAnswer(false)}>
          {t('no')}
        </button>
      </div>
    </Modal>
  );
}

/**
 * « Ajouter contacts »: searches the directory (only the people the school's
 * rules let us reach come back, with profile and classes), one is chosen,
 * « Ajouter le contact » sends the request.
 */
export function AddContactsDialog({
  model,
  category,
  onDone,
}: {
  model: Model;
  category: string | null;
  onDone: (added?: string) => void;
}) {
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [searching, setSearching] = useState(false);
  const [selected, setSelected] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ids = useMemo(
    () => ({ input: uid('search'), status: uid('search-status'), hint: uid('search-hint') }),
    [],
  );
  const seq = useRef(0);

  const run = async (text: string) => {
    const mine = ++seq.current;
    setSearching(true);
    setError(undefined);
    try {
      const found = await model.search(text);
      if (mine !== seq.current) return;
      setHits(found);
      if (!found.some((h) => h.jid === selected)) setSelected(undefined);
    } catch (e) {
      if (mine === seq.current) setError(errorMessage(e));
    } finally {
      if (mine === seq.current) setSearching(false);
    }
  };

  useEffect(() => {
    const timer = window.setTimeout(() => run(query.trim()), query ? 300 : 0);
    return () => window.clearTimeout(timer);
  }, [query]);

  const add = async () => {
    const hit = hits?.find((h) => h.jid === selected);
    if (!hit) {
      setError(t('addChooseFirst'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await model.addContact(hit, category);
      onDone(hit.jid);
    } catch (e) {
      setError(errorMessage(e));
      setBusy(false);
    }
  };

  const status = searching
    ? t('searching')
    : hits === null
      ? ''
      : hits.length === 0
        ? t('searchNone')
        : t('searchCount', { n: hits.length });

  return (
    <Modal title={t('addContacts')} onClose={() => onDone()} class="add-contacts">
      <p id={ids.hint}>{t('searchHint')}</p>
      <form
        role="search"
        class="search-row"
        onSubmit={(e) => {
          e.preventDefault();
          run(query.trim());
        }}
      >
        <label for={ids.input}>{t('searchLabel')}</label>
        <input
          id={ids.input}
          type="search"
          value={query}
          data-autofocus
          aria-describedby={ids.hint}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        />
        <button type="submit">{t('searchButton')}</button>
      </form>
      <p id={ids.status} class="search-status" role="status">
        {status}
      </p>
      {hits && hits.length > 0 && (
        <fieldset class="results">
          <legend>{t('searchResults')}</legend>
          {hits.map((h) => {
            const already = model.contacts.has(h.jid);
            const meta = [h.profile, h.classes].filter(Boolean).join(', ');
            return (
              <label key={h.jid} class={already ? 'result already' : 'result'}>
                <input
                  type="radio"
                  name="hit"
                  value={h.jid}
                  checked={selected === h.jid}
                  disabled={already}
                  onChange={() => setSelected(h.jid)}
                />
                <span class="result-name">{h.name || h.jid}</span>
                {meta && <span class="result-meta">{meta}</span>}
                {already && <span class="result-meta">({t('alreadyContact')})</span>}
              </label>
            );
          })}
        </fieldset>
      )}
      <p class="hint">
        {category ? t('addInto', { name: category }) : t('addIntoOthers')}
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="buttons">
        <button type="button" class="primary" disabled={busy} onClick={add}>
          {t('addContact')}
        </button>
        <button type="button" onClick={() => onDone()}>
          {t('cancel')}
        </button>
      </div>
    </Modal>
  );
}

/**
 * « Commencer conversation »: the name of the conversation, then « OK »; the
 * room is made and the contact invited.
 */
export function StartRoomDialog({
  model,
  invitee,
  onDone,
}: {
  model: Model;
  invitee: string;
  onDone: (room?: string) => void;
}) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ids = useMemo(() => ({ input: uid('room-name'), error: uid('room-error') }), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) {
      setError(t('roomNameMissing'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      onDone(await model.rooms.start(name, invitee));
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal title={t('startConversation')} onClose={() => onDone()}>
      <form onSubmit={submit} noValidate>
        <p>{t('conversationWith', { name: model.displayName(invitee) })}</p>
        <NameField label={t('roomName')} ids={ids} value={name} onInput={setName} error={error} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            {t('ok')}
          </button>
          <button type="button" onClick={() => onDone()}>
            {t('cancel')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/**
 * « Inviter contact »: the tree of the user's contacts (categories, then
 * « Autres contacts »), showing only the active ones (connected, and not in
 * the conversation already); one is chosen, « Inviter » sends the invitation.
 */
export function InviteDialog({
  model,
  room,
  onDone,
}: {
  model: Model;
  room: string;
  onDone: (invited?: string) => void;
}) {
  const [selected, setSelected] = useState<string>();
  const [error, setError] = useState<string>();
  const conv = model.conversation(room);
  const present = new Set([...(conv?.occupants?.values() ?? [])].map((o) => o.jid));
  // The seed's « contacts actifs » not already in the room.
  const active = (jid: string) => model.isActive(jid) && !present.has(jid);
  const groups: { name: string; jids: string[] }[] = [];
  const placed = new Set<string>();
  for (const name of model.categories()) {
    const jids = model.contactsIn(name).map((c) => c.jid).filter((j) => active(j) && !placed.has(j));
    jids.forEach((j) => placed.add(j));
    if (jids.length > 0) groups.push({ name, jids });
  }
  const others = model.contactsIn(null).map((c) => c.jid).filter(active);
  if (others.length > 0) groups.push({ name: t('otherContacts'), jids: others });

  const submit = (e: Event) => {
    e.preventDefault();
    if (!selected) {
      setError(t('inviteChooseFirst'));
      return;
    }
    try {
      model.rooms.invite(room, selected);
      onDone(selected);
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <Modal title={t('inviteContact')} onClose={() => onDone()} class="invite-contact">
      <form onSubmit={submit} noValidate>
        {groups.length === 0 ? (
          <p>{t('inviteNone')}</p>
        ) : (
          <>
            <p>{t('inviteHint')}</p>
            <ul class="invite-tree">
              <li>
                <span class="invite-root">{t('allContacts')}</span>
                <ul>
                  {groups.map((g, gi) => (
                    <li key={g.name}>
                      <fieldset class="results">
                        <legend>{t('categoryCount', { name: g.name, n: g.jids.length })}</legend>
                        {g.jids.map((jid, i) => (
                          <label key={jid} class="result">
                            <input
                              type="radio"
                              name="invitee"
                              value={jid}
                              checked={selected === jid}
                              data-autofocus={gi === 0 && i === 0 ? true : undefined}
                              onChange={() => setSelected(jid)}
                            />
                            <span class={`dot dot-${model.stateOf(jid)}`} aria-hidden="true" />
                            <span class="result-name">{model.displayName(jid)}</span>
                          </label>
                        ))}
                      </fieldset>
                    </li>
                  ))}
                </ul>
              </li>
            </ul>
          </>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="buttons">
          <button type="submit" class="primary" disabled={groups.length === 0}>
            {t('inviteButton')}
          </button>
          <button type="button" onClick={() => onDone()}>
            {t('cancel')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/**
 * « Mes conversations »: the rooms the user belongs to and has not open
 * here (closed, or from another browser), each with « Ouvrir ».
 */
export function MyRoomsDialog({ model, onDone }: { model: Model; onDone: (room?: string) => void }) {
  const [rooms, setRooms] = useState<{ jid: string; name: string }[] | null>(null);
  const [error, setError] = useState<string>();
  useEffect(() => {
    model
      .rooms.mine()
      .then((list) => {
        setRooms(list.filter((r) => !['joined', 'joining'].includes(model.conversation(r.jid)?.state ?? '')));
        window.setTimeout(() => document.querySelector<HTMLElement>('.my-rooms .request-buttons button')?.focus(), 0);
      })
      .catch((e) => setError(errorMessage(e)));
  }, []);
  return (
    <Modal title={t('myRooms')} onClose={() => onDone()} class="my-rooms">
      <p>{t('myRoomsHint')}</p>
      <p role="status" class="search-status">
        {rooms === null && !error ? t('myRoomsLoading') : rooms?.length === 0 ? t('myRoomsNone') : ''}
      </p>
      {rooms && rooms.length > 0 && (
        <ul class="requests" aria-label={t('myRooms')}>
          {rooms.map((r, i) => (
            <li key={r.jid} class="request">
              <span id={`my-room-${i}`} class="request-name">
                {r.name || r.jid.split('@')[0]}
              </span>
              <span class="request-buttons">
                <button
                  type="button"
                  class="primary"
                  aria-describedby={`my-room-${i}`}
                  data-autofocus={i === 0 ? true : undefined}
                  onClick={() => {
                    model.rooms.open(r.jid, r.name);
                    onDone(r.jid);
                  }}
                >
                  {t('openRoom')}
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="buttons">
        <button type="button" data-autofocus={rooms?.length ? undefined : true} onClick={() => onDone()}>
          {t('cancel')}
        </button>
      </div>
    </Modal>
  );
}

/**
 * « Réglages »: what happens for a new message while the window is hidden (a
 * desktop notification, a sound). The browser's permission for notifications
 * is asked here, when the box is ticked, never at load; the choice is kept
 * for the account on the server (private storage).
 */
export function SettingsDialog({ model, onDone }: { model: Model; onDone: () => void }) {
  const [problem, setProblem] = useState<string | null>(null);
  const ids = useMemo(() => ({ notify: uid('set-notify'), sound: uid('set-sound'), problem: uid('set-problem'), away: uid('set-away') }), []);
  const toggleNotify = async (on: boolean) => {
    setProblem(null);
    if (!on) {
      model.setPrefs({ notify: false });
      return;
    }
    if (!notificationsSupported()) {
      setProblem(t('settingsNotifyUnsupported'));
      return;
    }
    if (await askNotificationPermission()) model.setPrefs({ notify: true });
    else setProblem(t('settingsNotifyDenied'));
  };
  return (
    <Modal title={t('settings')} onClose={onDone} class="settings">
      <fieldset>
        <legend>{t('settingsNewMessages')}</legend>
        <div class="check">
          <input
            id={ids.notify}
            type="checkbox"
            data-autofocus
            checked={!!model.prefs.notify}
            aria-describedby={problem ? ids.problem : undefined}
            onChange={(e) => void toggleNotify((e.target as HTMLInputElement).checked)}
          />
          <label for={ids.notify}>{t('settingsNotify')}</label>
        </div>
        {problem && (
          <p id={ids.problem} class="error" role="alert">
            {problem}
          </p>
        )}
        <div class="check">
          <input
            id={ids.sound}
            type="checkbox"
            checked={!!model.prefs.sound}
            onChange={(e) => model.setPrefs({ sound: (e.target as HTMLInputElement).checked })}
          />
          <label for={ids.sound}>{t('settingsSound')}</label>
        </div>
      </fieldset>
      <div class="field">
        <label for={ids.away}>{t('settingsAwayAfter')}</label>
        <select
          id={ids.away}
          value={String(model.awayAfter())}
          onChange={(e) => model.setPrefs({ awayAfter: Number((e.target as HTMLSelectElement).value) })}
        >
          {[5, 10, 15, 30].map((n) => (
            <option key={n} value={String(n)}>
              {t('settingsMinutes', { n })}
            </option>
          ))}
          <option value="0">{t('settingsNever')}</option>
        </select>
      </div>
      <MyData model={model} />
      <div class="buttons">
        <button type="button" class="primary" onClick={onDone}>
          {t('close')}
        </button>
      </div>
    </Modal>
  );
}

/**
 * « Mes données »: the user's own data as a JSON file (the server's access
 * export, docs/safety.md), confirmed with his password; nothing is kept.
 */
function MyData({ model }: { model: Model }) {
  const ids = useMemo(() => ({ password: uid('data-password'), problem: uid('data-problem') }), []);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const portal = model.viaPortal;
  const download = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    setDone(false);
    if (!portal && !password) {
      setProblem(t('settingsDataBad'));
      return;
    }
    setBusy(true);
    try {
      const login = model.bare.split('@')[0];
      // Signed in through the portal, there is no chat password: the portal's session stands for it.
      const resp = portal
        ? await fetch('/sso/export', { method: 'POST', credentials: 'same-origin' })
        : await fetch('/api/export', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ login, password }),
          });
      if (resp.status === 401) {
        setProblem(t('settingsDataBad'));
        return;
      }
      if (!resp.ok) {
        setProblem(t('settingsDataFailed'));
        return;
      }
      const url = URL.createObjectURL(await resp.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `causerie-${login}.json`;
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setPassword('');
      setDone(true);
    } catch {
      setProblem(t('settingsDataFailed'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="my-data" onSubmit={download}>
      <fieldset>
        <legend>{t('settingsData')}</legend>
        <p>{t(portal ? 'settingsDataIntroPortal' : 'settingsDataIntro')}</p>
        {!portal && (
          <div class="field">
            <label for={ids.password}>{t('settingsDataPassword')}</label>
            <input
              id={ids.password}
              type="password"
              autocomplete="current-password"
              value={password}
              aria-describedby={problem ? ids.problem : undefined}
              aria-invalid={problem ? 'true' : undefined}
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            />
          </div>
        )}
        {problem && (
          <p id={ids.problem} class="error" role="alert">
            {problem}
          </p>
        )}
        {done && <p role="status">{t('settingsDataDone')}</p>}
        <button type="submit" disabled={busy}>
          {busy ? t('settingsDataBusy') : t('settingsDataDownload')}
        </button>
      </fieldset>
    </form>
  );
}

/**
 * « Signaler »: why (harassment, unwanted messages, other) and optional
 * details, then « Envoyer le signalement »; the report goes to the school's
 * staff (docs/safety.md). `onDone(true)` once the server took it.
 */
export function ReportDialog({
  model,
  jid,
  name,
  message = false,
  stanzaIds = [],
  onDone,
}: {
  model: Model;
  /** The person reported, or the room whose message is reported. */
  jid: string;
  /** Who is reported, as shown (default: the contact's name). */
  name?: string;
  /** A message is reported (else a person). */
  message?: boolean;
  stanzaIds?: string[];
  onDone: (sent: boolean) => void;
}) {
  const [reason, setReason] = useState<'abuse' | 'spam' | 'other'>('abuse');
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ids = useMemo(
    () => ({ intro: uid('report-intro'), text: uid('report-text'), error: uid('report-error'), legend: uid('report-legend') }),
    [],
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await model.report(jid, reason, text, stanzaIds);
      onDone(true);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal
      title={t(message ? 'reportMessageTitle' : 'reportTitle', { name: name ?? model.displayName(jid) })}
      describedBy={ids.intro}
      onClose={() => onDone(false)}
    >
      <form onSubmit={submit} noValidate>
        <p id={ids.intro}>{t('reportIntro')}</p>
        <fieldset class="report-reasons">
          <legend id={ids.legend}>{t('reportReason')}</legend>
          {(['abuse', 'spam', 'other'] as const).map((r) => (
            <label key={r} class="radio">
              <input type="radio" name="report-reason" value={r} checked={reason === r} onChange={() => setReason(r)} />{' '}
              {t(r === 'abuse' ? 'reportAbuse' : r === 'spam' ? 'reportSpam' : 'reportOther')}
            </label>
          ))}
        </fieldset>
        <label for={ids.text}>{t('reportDetails')}</label>
        <textarea
          id={ids.text}
          rows={3}
          maxLength={1000}
          value={text}
          aria-describedby={error ? ids.error : undefined}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        />
        {error && (
          <p id={ids.error} class="error" role="alert">
            {error}
          </p>
        )}
        <div class="buttons">
          <button type="submit" class="primary" aria-disabled={busy ? 'true' : undefined}>
            {t('reportSend')}
          </button>
          <button type="button" onClick={() => onDone(false)}>
            {t('cancel')}
          </button>
        </div>
      </form>
    </Modal>
  );
}
