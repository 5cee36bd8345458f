import type { ComponentChildren } from 'preact';
// Sharing files (XEP-0363) on screen: the paperclip of the editor, shown when
// the server offers sharing to this user (his school allows it), and a
// message that is one of this server's files, shown as an image preview or a
// download link. Any other text stays text.

import { useRef, useState } from 'preact/hooks';
import { t } from './i18n';
import { useModel } from './hooks';
import { SENDABLE_TYPES, sharedFile } from './xmpp/upload';

/** « Joindre un fichier »: picks a file and sends it to conversation `jid`. */
export function AttachButton({ jid, disabled }: { jid: string; disabled?: boolean }) {
  const model = useModel();
  const input = useRef<HTMLInputElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const [sending, setSending] = useState(false);
  if (!model.upload.available) return null;
  const pick = (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    const file = el.files?.[0];
    el.value = '';
    if (!file) return;
    setSending(true);
    model
      .sendFile(jid, file)
      .catch((err) => model.fail(err))
      .finally(() => {
        setSending(false);
        button.current?.focus();
      });
  };
  return (
    <>
      <button
        ref={button}
        type="button"
        class="attach-button"
        aria-label={sending ? t('sendingFile') : t('attachFile')}
        title={t('attachFile')}
        disabled={disabled || sending}
        onClick={() => input.current?.click()}
      >
        📎
      </button>
      <input
        ref={input}
        type="file"
        class="sr-only"
        tabIndex={-1}
        aria-hidden="true"
        accept={SENDABLE_TYPES.join(',')}
        onChange={pick}
      />
    </>
  );
}

/** A message's text, or the file it shares. */
export function MessageBody({ text, children }: { text: string; children: ComponentChildren }) {
  const model = useModel();
  const file = sharedFile(text, model.config.upload);
  // Any other message: the text as the caller renders it (links made clickable).
  if (!file) return <p class="text">{children}</p>;
  if (file.image) {
    return (
      <p class="text shared-file">
        <a href={file.url} target="_blank" rel="noopener noreferrer">
          <img class="shared-image" src={file.url} alt={t('sharedImage', { name: file.name })} loading="lazy" />
        </a>
      </p>
    );
  }
  return (
    <p class="text shared-file">
      <a href={file.url} download={file.name} rel="noopener noreferrer">
        {t('downloadFile', { name: file.name })}
      </a>
    </p>
  );
}
