// Small shared pieces: modal dialogs on the native <dialog> element (focus
// stays inside, Escape cancels), confirmations (« Non » focused first), the
// live region that announces what was done, field errors, the hash router.

import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorText, t } from './i18n';
import { ApiError } from './api';

let counter = 0;
/** A document-unique id for ARIA references. */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}
export function useUid(prefix: string): string {
  return useMemo(() => uid(prefix), []);
}

// ------------------------------------------------------------ announcements
type Listener = (text: string) => void;
const listeners = new Set<Listener>();
/** Says `text` in the page's status live region (confirmations of changes). */
export function announce(text: string) {
  for (const l of listeners) l(text);
}

export function Announcer() {
  const [text, setText] = useState('');
  useEffect(() => {
    let shown = 0;
    let hide = 0;
    const l: Listener = (s) => {
      // Cleared first so that the same text twice is announced twice; the
      // text stays a while, then leaves (it is in the page's state anyway).
      setText('');
      clearTimeout(shown);
      clearTimeout(hide);
      shown = window.setTimeout(() => setText(s), 50);
      hide = window.setTimeout(() => setText(''), 8000);
    };
    listeners.add(l);
    return () => {
      listeners.delete(l);
      clearTimeout(shown);
      clearTimeout(hide);
    };
  }, []);
  return (
    <div class="announcer" role="status" aria-live="polite">
      {text}
    </div>
  );
}

/** Names of the caller's structures (from the session), for ids in the data. */
export const structureNames = new Map<string, string>();
export const structureName = (id: string) => structureNames.get(id) ?? id;

// ------------------------------------------------------------ router
export function useHash(): string[] {
  const read = () =>
    location.hash
      .replace(/^#\/?/, '')
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const f = () => setParts(read());
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return parts;
}

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

export function go(...parts: string[]) {
  location.hash = href(...parts);
}

/**
 * The screen's heading, focused when the screen opens (so that a screen
 * reader reads it), and the page's title (« Règles de communication —
 * Console d'administration du chat »).
 */
export function ScreenHeading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: false });
  }, []);
  useEffect(() => {
    const text = ref.current?.textContent?.trim();
    document.title = text ? `${text} — ${t('title')}` : t('title');
  });
  return (
    <h1 ref={ref} tabIndex={-1} class="screen-heading">
      {children}
    </h1>
  );
}

// ------------------------------------------------------------ dialogs
interface ModalProps {
  title: string;
  onClose: () => void;
  alert?: boolean;
  describedBy?: string;
  children: ComponentChildren;
}

export function Modal({ title, onClose, alert, describedBy, children }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useUid('dialog-title');
  useLayoutEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    dialog.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    return () => {
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class="dialog"
      role={alert ? 'alertdialog' : undefined}
      aria-modal="true"
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

/** « Oui » / « Non » (focus on « Non »); `onYes` may throw an ApiError, shown inside. */
export function Confirm({
  title,
  text,
  onYes,
  onClose,
}: {
  title: string;
  text: string;
  onYes: () => Promise<void>;
  onClose: () => void;
}) {
  const textId = useUid('confirm-text');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Modal title={title} onClose={onClose} alert describedBy={textId}>
      <p id={textId}>{text}</p>
      <ErrorText error={error} />
      <div class="buttons">
        <button
          type="button"
          class="primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await onYes();
            } catch (e) {
              setError(e);
              setBusy(false);
            }
          }}
        >
          {t('yes')}
        </button>
        <button type="button" data-autofocus onClick={onClose}>
          {t('no')}
        </button>
      </div>
    </Modal>
  );
}

// ------------------------------------------------------------ errors

/** An error near what it is about; `role="alert"` so that it is read at once. */
export function ErrorText({ error, id }: { error: unknown; id?: string }) {
  return (
    <p class="error" role="alert" id={id}>
      {error ? errorText(error) : ''}
    </p>
  );
}

/**
 * The error for one field of a form: the server names it (`field`, possibly
 * `rules[2].from`); `fields` are the names this form shows near an input.
 */
export function errorFor(error: unknown, field: string, fields: string[]): unknown {
  if (!(error instanceof ApiError) || !error.field) return field === '' ? error : null;
  const f = error.field;
  const base = f.replace(/^.*\./, '').replace(/\[\d+\]$/, '');
  const named = fields.find((x) => x === f || x === base);
  if (named) return named === field ? error : null;
  return field === '' ? error : null;
}

/** Props for an input that an error may concern. */
export function invalid(error: unknown, errorId: string) {
  return error ? { 'aria-invalid': 'true' as const, 'aria-describedby': errorId } : {};
}

/** An error found before asking the server, shaped like the server's. */
export function localError(field: string | undefined, text: string): ApiError {
  return new ApiError(400, 'invalid', text, text, field);
}

export function Loading() {
  return <p class="hint">{t('loading')}</p>;
}

/** Loads `f()` when `deps` change; `reload` loads again. */
export function useLoad<T>(f: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    f().then(
      (d) => live && setData(d),
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { data, error, reload: () => setN((x) => x + 1), setData };
}
