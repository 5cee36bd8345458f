// Modal dialogs, on the native <dialog> element (showModal: the rest of the
// page is inert, focus stays inside, Escape cancels): « Créer une
// catégorie », « Ajouter contacts », and the « Oui » / « Non » confirmations.

import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { t } from './i18n';
import { ActionError, type Model, type SearchHit } from './model';
import { uid } from './hooks';

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

function errorMessage(e: unknown): string {
  return e instanceof ActionError || e instanceof Error ? e.message : String(e);
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
      onDone(model.createCategory(name));
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <Modal title={t('createCategory')} onClose={() => onDone()}>
      <form onSubmit={submit} noValidate>
        <div class="field">
          <label for={ids.input}>{t('categoryName')}</label>
          <input
            id={ids.input}
            type="text"
            maxLength={100}
            value={name}
            data-autofocus
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? ids.error : undefined}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </div>
        {error && (
          <p id={ids.error} class="error" role="alert">
            {error}
          </p>
        )}
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
