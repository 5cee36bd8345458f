// The right pane: the open conversations as tabs (several at once), each
// with its messages and events (a live log), and the editor: the smiley
// picker at its top left (and the paperclip, upload.tsx, when the school
// allows sharing files), the text, « Envoyer ». Enter sends, Shift+Enter
// goes to a new line.
//
// A room (a conversation with several people) also has « Inviter contact »
// and its participants with their states; its creator removes someone with
// « Retirer de la conversation » (a menu on the participant, then « Oui »).
//
// Message text is only ever put into the page as text nodes (JSX children),
// never as HTML: whatever a message contains is shown as typed. Its http(s)
// and mailto addresses become links (linkify.ts), opened in a new tab.
//
// On a narrow screen (below 40rem) a room's participants are a drawer, opened
// and closed by a « Participants (n) » button (aria-expanded); opening it
// moves the focus into it, Escape or « Fermer » closes it and gives the focus
// back to the button.

import { Fragment } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { SMILEYS, byName, formatTime, lang, say, t } from './i18n';
import { dayKey, dayLabel } from './shared/i18n';
import { useModel } from './hooks';
import type { Conversation, Line } from './model';
import { Dot, contactStatus } from './contacts';
import { Menu, below } from './menu';
import { ConfirmDialog, InviteDialog, MyRoomsDialog, ReportDialog } from './dialogs';
import { linkify } from './linkify';
import { AttachButton, MessageBody } from './upload';

export function Conversations({ focusEditor }: { focusEditor: number }) {
  const model = useModel();
  const convs = model.conversations;
  const active = convs.find((c) => c.jid === model.activeConversation) ?? convs[0];
  const [myRooms, setMyRooms] = useState(false);
  const myRoomsButton = useRef<HTMLButtonElement>(null);
  const roomsButton = (
    <button
      ref={myRoomsButton}
      type="button"
      class="my-rooms-button"
      aria-haspopup="dialog"
      onClick={() => setMyRooms(true)}
    >
      {t('myRooms')}
    </button>
  );
  const roomsDialog = myRooms && (
    <MyRoomsDialog
      model={model}
      onDone={(room) => {
        setMyRooms(false);
        if (!room) window.setTimeout(() => myRoomsButton.current?.focus(), 0);
      }}
    />
  );

  const onTabKey = (e: KeyboardEvent) => {
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key) || convs.length === 0) return;
    e.preventDefault();
    const i = convs.findIndex((c) => c.jid === active?.jid);
    const j =
      e.key === 'Home'
        ? 0
        : e.key === 'End'
          ? convs.length - 1
          : (i + (e.key === 'ArrowRight' ? 1 : -1) + convs.length) % convs.length;
    model.showConversation(convs[j].jid);
    document.getElementById(tabId(j))?.focus();
  };

  return (
    <section class="right" aria-label={t('conversations')}>
      {convs.length === 0 ? (
        <>
          <div class="conv-bar">
            <span class="spacer" />
            {roomsButton}
          </div>
          <p class="empty">{t('conversationsNone')}</p>
        </>
      ) : (
        <>
          <div class="conv-bar">
            <div role="tablist" class="tabs conv-tabs" aria-label={t('conversations')} onKeyDown={onTabKey}>
              {convs.map((c, i) => {
                const selected = c.jid === active?.jid;
                return (
                  <button
                    key={c.jid}
                    id={tabId(i)}
                    type="button"
                    role="tab"
                    aria-selected={selected ? 'true' : 'false'}
                    aria-controls="conversation-panel"
                    tabIndex={selected ? 0 : -1}
                    onClick={() => model.showConversation(c.jid)}
                  >
                    {c.kind === 'chat' && <Dot state={contactStatus(model, c.jid).state} />}
                    {c.kind === 'room' ? model.rooms.title(c) : model.displayName(c.jid)}
                    {c.unread > 0 && (
                      <>
                        {' '}
                        <span class="badge" aria-hidden="true">
                          {c.unread}
                        </span>
                        <span class="sr-only">{t('unread', { n: c.unread })}</span>
                      </>
                    )}
                  </button>
                );
              })}
            </div>
            {roomsButton}
          </div>
          {active && (
            <ConversationPanel
              key={active.jid}
              conv={active}
              labelledBy={tabId(convs.indexOf(active))}
              focusEditor={focusEditor}
            />
          )}
        </>
      )}
      {roomsDialog}
    </section>
  );
}

const tabId = (i: number) => `conversation-tab-${i}`;

const lineText = (line: Line) => line.text ?? (line.say ? say(line.say) : '');

/** A message's text, its addresses as links (text nodes and <a> only, never HTML). */
function MessageText({ text }: { text: string }) {
  return (
    <>
      {linkify(text).map((piece, i) =>
        'href' in piece ? (
          <a key={i} href={piece.href} target="_blank" rel="noopener noreferrer">
            {piece.text}
            <span class="sr-only"> {t('newTab')}</span>
          </a>
        ) : (
          piece.text
        ),
      )}
    </>
  );
}

function ConversationPanel({
  conv,
  labelledBy,
  focusEditor,
}: {
  conv: Conversation;
  labelledBy: string;
  focusEditor: number;
}) {
  const model = useModel();
  const isRoom = conv.kind === 'room';
  const name = isRoom ? model.rooms.title(conv) : model.displayName(conv.jid);
  const status = contactStatus(model, conv.jid);
  const now = new Date();
  const logRef = useRef<HTMLDivElement>(null);
  const editorRef = useRef<HTMLTextAreaElement>(null);
  const inviteButton = useRef<HTMLButtonElement>(null);
  const drawerButton = useRef<HTMLButtonElement>(null);
  const [inviting, setInviting] = useState(false);
  // A received message's menu (« Signaler ce message ») and the report dialog it opens.
  const [lineMenu, setLineMenu] = useState<{ line: Line; x: number; y: number; from: HTMLElement } | null>(null);
  const [reporting, setReporting] = useState<{ line: Line; from: HTMLElement } | null>(null);
  // The room's creator: « Supprimer pour tout le monde » (XEP-0425), after « Oui ».
  const [deleting, setDeleting] = useState<{ line: Line; from: HTMLElement } | null>(null);
  const creator = isRoom && conv.affiliation === 'owner' && conv.state === 'joined';
  // The participants' drawer (narrow screens only: wider, the column is always shown).
  const [drawer, setDrawer] = useState(false);
  const closeDrawer = () => {
    setDrawer(false);
    drawerButton.current?.focus();
  };
  const participantsId = `participants-${conv.jid.split('@')[0]}`;
  const joined = !isRoom || conv.state === 'joined';
  // One may start typing while entering the room; not once out of it.
  const out = isRoom && (conv.state === 'left' || conv.state === 'removed');
  const roomState =
    conv.state === 'joined'
      ? t('roomParticipantsCount', { n: conv.occupants?.size ?? 0 })
      : conv.state === 'joining'
        ? t('roomJoining')
        : t('roomLeftState');

  // A new last line scrolls to the bottom; earlier messages put on top do not.
  useLayoutEffect(() => {
    const log = logRef.current;
    if (log) log.scrollTop = log.scrollHeight;
  }, [conv.lines[conv.lines.length - 1]?.id]);

  useEffect(() => {
    if (focusEditor > 0) editorRef.current?.focus();
  }, [focusEditor]);

  return (
    <div id="conversation-panel" role="tabpanel" aria-labelledby={labelledBy} class="conversation">
      <div class="conv-head">
        <h2>{isRoom ? t('roomHeading', { name }) : t('conversationWith', { name })}</h2>
        {isRoom ? (
          <span class="conv-state">{roomState}</span>
        ) : (
          <span class="conv-state">
            <Dot state={status.state} /> {status.text}
          </span>
        )}
        {isRoom && (
          <button
            ref={drawerButton}
            type="button"
            class="participants-toggle"
            aria-expanded={drawer ? 'true' : 'false'}
            aria-controls={participantsId}
            onClick={() => (drawer ? closeDrawer() : setDrawer(true))}
          >
            {t('participantsCount', { n: conv.occupants?.size ?? 0 })}
          </button>
        )}
        {isRoom && (
          <button
            ref={inviteButton}
            type="button"
            aria-haspopup="dialog"
            disabled={!joined}
            onClick={() => setInviting(true)}
          >
            {t('inviteContact')}
          </button>
        )}
        <button type="button" onClick={() => model.closeConversation(conv.jid)}>
          {t('closeConversation')}
        </button>
      </div>
      {!isRoom && status.state === 'offline' && !status.shown && (
        <p class="hint conv-offline">{t('offlineHint', { name })}</p>
      )}
      <div class="conv-body">
        <div ref={logRef} class="log" role="log" aria-label={t('messages')} tabIndex={0}>
          {(!isRoom || conv.state === 'joined') &&
            (conv.historyComplete ? (
              <p class="history-start">{t('historyStart')}</p>
            ) : (
              <p class="history-start">
                <button
                  type="button"
                  aria-disabled={conv.loadingOlder ? 'true' : undefined}
                  onClick={() => {
                    model.loadOlder(conv.jid).then(() => {
                      if (conv.historyComplete) logRef.current?.focus();
                    });
                  }}
                >
                  {t('olderMessages')}
                </button>
              </p>
            ))}
          {conv.lines.map((line, i) => (
            <Fragment key={line.id}>
            {(i === 0 || dayKey(conv.lines[i - 1].time) !== dayKey(line.time)) && (
              <h3 class="day">
                <time dateTime={dayKey(line.time)}>{dayLabel(line.time, now)}</time>
              </h3>
            )}
            <div class={`line line-${line.kind}`}>
              {line.kind === 'in' || line.kind === 'out' ? (
                <>
                  <span class="who">
                    {line.who ?? (line.kind === 'out' ? model.displayName(model.bare) : name)}
                  </span>{' '}
                  <time dateTime={line.time.toISOString()}>{formatTime(line.time)}</time>
                  {line.sid && !line.retracted && (line.kind === 'in' || creator) && (
                    <>
                      {' '}
                      <button
                        type="button"
                        class="line-actions"
                        aria-haspopup="menu"
                        aria-label={t('messageActions', { name: line.who ?? name, time: formatTime(line.time) })}
                        onClick={(e) => {
                          const el = e.currentTarget as HTMLElement;
                          const { x, y } = below(el);
                          setLineMenu({ line, x, y, from: el });
                        }}
                      >
                        …
                      </button>
                    </>
                  )}
                  {line.retracted ? (
                    <p class="retracted">{t('messageModerated')}</p>
                  ) : (
                    <MessageBody text={line.text ?? ''}>
                      <MessageText text={line.text ?? ''} />
                    </MessageBody>
                  )}
                </>
              ) : (
                <p class="event">
                  {lineText(line)}
                  {/* The room's join and leave lines say their time themselves. */}
                  {!lineText(line).includes(formatTime(line.time)) && (
                    <>
                      {' '}
                      <time dateTime={line.time.toISOString()}>{formatTime(line.time)}</time>
                    </>
                  )}
                </p>
              )}
            </div>
            </Fragment>
          ))}
        </div>
        {isRoom && (
          <Participants
            conv={conv}
            id={participantsId}
            open={drawer}
            onClose={closeDrawer}
            afterRemoval={() => inviteButton.current?.focus()}
          />
        )}
      </div>
      <Editor conv={conv} editorRef={editorRef} disabled={out} />
      {lineMenu && (
        <Menu
          label={t('messageActions', { name: lineMenu.line.who ?? name, time: formatTime(lineMenu.line.time) })}
          items={[
            ...(lineMenu.line.kind === 'in'
              ? [
                  {
                    label: t('reportMessage'),
                    onSelect: () => setReporting({ line: lineMenu.line, from: lineMenu.from }),
                  },
                ]
              : []),
            ...(creator
              ? [
                  {
                    label: t('deleteForEveryone'),
                    onSelect: () => setDeleting({ line: lineMenu.line, from: lineMenu.from }),
                  },
                ]
              : []),
          ]}
          x={lineMenu.x}
          y={lineMenu.y}
          onClose={(restore) => {
            const from = lineMenu.from;
            setLineMenu(null);
            if (restore) from.focus();
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={t('deleteForEveryone')}
          text={t('confirmDeleteForEveryone', { name: deleting.line.who ?? name })}
          onAnswer={(yes) => {
            const { line, from } = deleting;
            setDeleting(null);
            if (yes && line.sid) {
              model.rooms.deleteForEveryone(conv.jid, line.sid).catch((e) => model.fail(e));
              // The line's button goes away with its text: focus goes back to the editor.
              window.setTimeout(() => editorRef.current?.focus(), 0);
            } else if (from.isConnected) {
              window.setTimeout(() => from.focus(), 0);
            }
          }}
        />
      )}
      {reporting && (
        <ReportDialog
          model={model}
          jid={conv.jid}
          name={reporting.line.who ?? name}
          message
          stanzaIds={reporting.line.sid ? [reporting.line.sid] : []}
          onDone={(sent) => {
            const from = reporting.from;
            setReporting(null);
            if (sent) model.notify({ key: 'reportSent' }, 'info', true);
            window.setTimeout(() => from.isConnected && from.focus(), 0);
          }}
        />
      )}
      {inviting && (
        <InviteDialog
          model={model}
          room={conv.jid}
          onDone={(jid) => {
            setInviting(false);
            if (jid) model.notify({ key: 'inviteSent', params: { name: model.displayName(jid) } }, 'info', true);
            window.setTimeout(() => inviteButton.current?.focus(), 0);
          }}
        />
      )}
    </div>
  );
}

/**
 * The participants of a room, each with the light of their state. For the
 * creator, each other participant is a button opening a menu (click,
 * right-click, the context-menu key or Shift+F10) with « Retirer de la
 * conversation », confirmed by « Renvoyer ce participant de la conversation ? ».
 */
function Participants({
  conv,
  id,
  open: drawerOpen,
  onClose,
  afterRemoval,
}: {
  conv: Conversation;
  id: string;
  /** The drawer is open (narrow screens). */
  open: boolean;
  onClose: () => void;
  afterRemoval: () => void;
}) {
  const model = useModel();
  const asideRef = useRef<HTMLElement>(null);
  useEffect(() => {
    if (drawerOpen) asideRef.current?.querySelector<HTMLElement>('.drawer-close')?.focus();
  }, [drawerOpen]);
  const [menu, setMenu] = useState<{ nick: string; x: number; y: number; from: HTMLElement } | null>(null);
  const [confirm, setConfirm] = useState<{ nick: string; from: HTMLElement } | null>(null);
  const list = [...(conv.occupants?.values() ?? [])].sort((a, b) => byName(a.nick, b.nick));
  const owner = conv.affiliation === 'owner' && conv.state === 'joined';
  const base = id;
  const open = (nick: string, el: HTMLElement, x?: number, y?: number) => {
    const r = el.getBoundingClientRect();
    setMenu({ nick, x: x ?? r.left + 16, y: y ?? r.bottom, from: el });
  };
  return (
    <aside
      ref={asideRef}
      id={id}
      class={`participants${drawerOpen ? ' open' : ''}`}
      aria-labelledby={`${base}-heading`}
      onKeyDown={(e) => {
        // Escape closes the drawer, unless a menu or a dialog of its own takes it.
        const target = e.target as Element;
        if (e.key !== 'Escape' || !drawerOpen || target.closest('[role="menu"], dialog')) return;
        e.preventDefault();
        onClose();
      }}
    >
      <div class="participants-head">
        <h3 id={`${base}-heading`}>{t('participantsCount', { n: list.length })}</h3>
        <button type="button" class="drawer-close" onClick={onClose}>
          {t('close')}
        </button>
      </div>
      <ul aria-label={t('participants')}>
        {list.map((o, i) => {
          const me = o.nick === conv.nick;
          const removable = owner && !me && o.affiliation !== 'owner';
          const statusId = `${base}-${i}-state`;
          const content = (
            <>
              <Dot state={o.show} />
              {o.nick}
            </>
          );
          return (
            <li key={o.nick} class="participant" data-state={o.show}>
              {removable ? (
                <button
                  type="button"
                  class="participant-button"
                  aria-haspopup="menu"
                  aria-describedby={statusId}
                  onClick={(e) => open(o.nick, e.currentTarget as HTMLElement)}
                  onContextMenu={(e) => {
                    e.preventDefault();
                    const fromMouse = e.button === 2 && (e.clientX !== 0 || e.clientY !== 0);
                    open(o.nick, e.currentTarget as HTMLElement, fromMouse ? e.clientX : undefined, fromMouse ? e.clientY : undefined);
                  }}
                  onKeyDown={(e) => {
                    if ((e.key === 'F10' && e.shiftKey) || e.key === 'ContextMenu') {
                      e.preventDefault();
                      open(o.nick, e.currentTarget as HTMLElement);
                    }
                  }}
                >
                  {content}
                </button>
              ) : (
                <span class="participant-name">{content}</span>
              )}
              {(me || o.affiliation === 'owner') && (
                <span class="hint">
                  {' '}
                  ({[me && t('me'), o.affiliation === 'owner' && t('creator')].filter(Boolean).join(', ')})
                </span>
              )}
              <span id={statusId} class="sr-only">
                {' '}
                {t(o.show)}
              </span>
            </li>
          );
        })}
      </ul>
      {menu && (
        <Menu
          label={t('actionsForParticipant', { name: menu.nick })}
          items={[
            {
              label: t('removeParticipant'),
              onSelect: () => setConfirm({ nick: menu.nick, from: menu.from }),
            },
          ]}
          x={menu.x}
          y={menu.y}
          onClose={(restore) => {
            const from = menu.from;
            setMenu(null);
            if (restore) from.focus();
          }}
        />
      )}
      {confirm && (
        <ConfirmDialog
          title={t('removeParticipant')}
          text={t('confirmRemoveParticipant')}
          onAnswer={(yes) => {
            const { nick, from } = confirm;
            setConfirm(null);
            if (yes) {
              // The participant's button goes away with them: focus goes to « Inviter contact ».
              window.setTimeout(afterRemoval, 0);
              model
                .rooms.removeParticipant(conv.jid, nick)
                .catch((e) => model.fail(e));
            } else if (from.isConnected) {
              window.setTimeout(() => from.focus(), 0);
            }
          }}
        />
      )}
    </aside>
  );
}

function Editor({
  conv,
  editorRef,
  disabled,
}: {
  conv: Conversation;
  editorRef: { current: HTMLTextAreaElement | null };
  disabled?: boolean;
}) {
  const model = useModel();
  const [picker, setPicker] = useState(false);
  const smileyButton = useRef<HTMLButtonElement>(null);
  const ids = { editor: `editor-${conv.jid}`, help: `editor-help-${conv.jid}` };

  const send = () => {
    const el = editorRef.current;
    if (!el) return;
    const text = el.value;
    if (!text.trim()) return;
    try {
      model.sendMessage(conv.jid, text);
      el.value = '';
    } catch (e) {
      model.fail(e);
    }
    el.focus();
  };

  const insert = (s: string) => {
    const el = editorRef.current;
    setPicker(false);
    if (!el) return;
    el.focus();
    el.setRangeText(s, el.selectionStart, el.selectionEnd, 'end');
    model.setDraft(conv.jid, el.value);
  };

  return (
    <div class="editor">
      <div class="editor-toolbar">
        <button
          ref={smileyButton}
          type="button"
          class="smiley-button"
          aria-label={t('smileys')}
          title={t('smileys')}
          aria-haspopup="dialog"
          aria-expanded={picker ? 'true' : 'false'}
          onClick={() => setPicker(!picker)}
        >
          🙂
        </button>
        <AttachButton jid={conv.jid} disabled={disabled} />
        {picker && (
          <SmileyPicker
            onPick={insert}
            onClose={() => {
              setPicker(false);
              smileyButton.current?.focus();
            }}
          />
        )}
      </div>
      <div class="editor-row">
        <label for={ids.editor} class="sr-only">
          {t('message')}
        </label>
        <textarea
          ref={editorRef}
          id={ids.editor}
          rows={3}
          disabled={disabled}
          defaultValue={conv.draft}
          aria-describedby={ids.help}
          onInput={(e) => model.setDraft(conv.jid, (e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="button" class="primary send" disabled={disabled} onClick={send}>
          {t('send')}
        </button>
      </div>
      <p id={ids.help} class="hint">
        {t('editorHelp')}
      </p>
    </div>
  );
}

const COLUMNS = 5;

/** A grid of smileys; arrows move, Enter inserts, Escape closes. */
function SmileyPicker({ onPick, onClose }: { onPick: (s: string) => void; onClose: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    ref.current?.querySelector<HTMLElement>('button')?.focus();
  }, []);
  useEffect(() => {
    const outside = (e: Event) => {
      const picker = ref.current;
      if (picker && !picker.contains(e.target as Node) && !(e.target as Element).closest?.('.smiley-button')) {
        onClose();
      }
    };
    document.addEventListener('mousedown', outside, true);
    return () => document.removeEventListener('mousedown', outside, true);
  }, []);
  const onKeyDown = (e: KeyboardEvent) => {
    const buttons = Array.from(ref.current?.querySelectorAll<HTMLElement>('button') ?? []);
    const i = buttons.indexOf(document.activeElement as HTMLElement);
    const go = (j: number) => {
      if (j >= 0 && j < buttons.length) buttons[j].focus();
    };
    switch (e.key) {
      case 'ArrowRight':
        go(i + 1);
        break;
      case 'ArrowLeft':
        go(i - 1);
        break;
      case 'ArrowDown':
        go(i + COLUMNS);
        break;
      case 'ArrowUp':
        go(i - COLUMNS);
        break;
      case 'Home':
        go(0);
        break;
      case 'End':
        go(buttons.length - 1);
        break;
      case 'Escape':
        onClose();
        break;
      default:
        return;
    }
    e.preventDefault();
    e.stopPropagation();
  };
  return (
    <div ref={ref} class="smiley-picker" role="dialog" aria-label={t('smileyPicker')} onKeyDown={onKeyDown}>
      {SMILEYS.map((s, i) => (
        <button
          key={s.char}
          type="button"
          tabIndex={i === 0 ? 0 : -1}
          aria-label={lang === 'en' ? s.en : s.fr}
          title={lang === 'en' ? s.en : s.fr}
          onClick={() => onPick(s.char)}
        >
          {s.char}
        </button>
      ))}
    </div>
  );
}
