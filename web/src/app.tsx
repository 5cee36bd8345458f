// The screens: the login page, then the chat window (header with the user's
// « NOM Prénom » and state menu, the left pane, the conversations), with the
// context menus and dialogs they open.

import { useRef, useState } from 'preact/hooks';
import { say, t } from './i18n';
import { useModel } from './hooks';
import type { Show } from './model';
import { Menu, type MenuItem, below } from './menu';
import { Dot, LeftPane, type TreeNode } from './contacts';
import {
  AddContactsDialog,
  ConfirmDialog,
  CreateCategoryDialog,
  MoveContactDialog,
  RenameCategoryDialog,
  ReportDialog,
  SettingsDialog,
  StartRoomDialog,
} from './dialogs';
import { Conversations } from './conversations';
import { LoginForm } from './login-form';
import { portalSignInUrl } from './portal-sign-in';

export function App() {
  const model = useModel();
  if (
    model.status === 'signed-out' ||
    (model.status === 'connecting' && !model.bare) ||
    // Signed in, but the profile (« tu » or « vous ») is not known yet: one more round trip.
    (model.status === 'online' && model.profile === undefined)
  ) {
    return <Login />;
  }
  return <Chat />;
}

function Login() {
  const model = useModel();
  const [id, setId] = useState('');
  const [password, setPassword] = useState('');
  const [missing, setMissing] = useState(false);
  const busy = model.status === 'connecting' || model.status === 'online';
  const error = missing ? t('loginMissing') : model.loginError && say(model.loginError);
  const submit = (e: Event) => {
    e.preventDefault();
    if (!id.trim() || !password) {
      setMissing(true);
      return;
    }
    setMissing(false);
    model.login(id, password).catch(() => {
      document.getElementById('login-password')?.focus();
    });
  };
  const sso = model.config.sso;
  const lead = sso && (
    <div class="login-portal">
      <button type="button" class="primary" onClick={() => location.assign(portalSignInUrl(sso))}>
        {t('loginPortal')}
      </button>
      <p>{t('loginPortalOr')}</p>
    </div>
  );
  return (
    <main class="login">
      <LoginForm
        lead={lead}
        labels={{
          heading: t('loginHeading'),
          intro: t(sso ? 'loginPortalIntro' : 'loginIntro'),
          id: t('loginId'),
          password: t('loginPassword'),
          submit: t('loginSubmit'),
          busy: t('loginConnecting'),
        }}
        id={id}
        password={password}
        onId={setId}
        onPassword={setPassword}
        invalid={!!error}
        message={error}
        busy={busy}
        onSubmit={submit}
      />
    </main>
  );
}

const SHOWS: Show[] = ['available', 'away', 'dnd'];

/**
 * Quiet hours and the kill switch (docs/safety.md « Heures calmes », « Coupure »), as
 * the server told them: one banner each, with the school's own text.
 */
function SafetyBanners() {
  const model = useModel();
  const shutdown = model.shutdown;
  return (
    <>
      {shutdown && (
        <div class="banner banner-shutdown" role="status" data-mode={shutdown.mode}>
          <p>{t(shutdown.mode === 'read_only' ? 'shutdownReadOnly' : 'shutdownStaffToFamilies')}</p>
          {shutdown.text && <p>{t('shutdownSchoolText', { text: shutdown.text })}</p>}
        </div>
      )}
      {model.quiet && (
        <p class="banner banner-quiet" role="status">
          {t('quietBanner', { until: model.quiet.until })}
        </p>
      )}
    </>
  );
}

function Header() {
  const model = useModel();
  const [menu, setMenu] = useState<{ x: number; y: number } | null>(null);
  const [settings, setSettings] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const settingsButton = useRef<HTMLButtonElement>(null);
  const items: MenuItem[] = SHOWS.map((s) => ({
    label: t(s),
    checked: model.myShow === s,
    onSelect: () => model.setShow(s),
  }));
  return (
    <>
      <header class="topbar">
        <p class="me">
          <Dot state={model.myShow} />
          <span class="me-name">{model.myName || model.bare}</span>
        </p>
        <button
          ref={button}
          type="button"
          class="state-button"
          aria-haspopup="menu"
          aria-expanded={menu ? 'true' : 'false'}
          onClick={() => setMenu(menu ? null : below(button.current!))}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown') {
              e.preventDefault();
              setMenu(below(button.current!));
            }
          }}
        >
          <span class="sr-only">{t('stateLabel')}</span>
          {t(model.myShow)} <span aria-hidden="true">▾</span>
        </button>
        {menu && (
          <Menu
            label={t('stateMenu')}
            items={items}
            radio
            x={menu.x}
            y={menu.y}
            onClose={(restore) => {
              setMenu(null);
              if (restore) button.current?.focus();
            }}
          />
        )}
        <span class="spacer" />
        <button ref={settingsButton} type="button" aria-haspopup="dialog" onClick={() => setSettings(true)}>
          {t('settings')}
        </button>
        <button type="button" onClick={() => model.logout()}>
          {t('logout')}
        </button>
      </header>
      {settings && (
        <SettingsDialog
          model={model}
          onDone={() => {
            setSettings(false);
            window.setTimeout(() => settingsButton.current?.focus(), 0);
          }}
        />
      )}
    </>
  );
}

function Notices() {
  const model = useModel();
  const list = (kind: 'info' | 'error') =>
    model.notices
      .filter((n) => n.kind === kind)
      .map((n) => (
        <p key={n.id} class={`notice notice-${kind}`}>
          <span>{say(n.say)}</span>
          <button type="button" class="dismiss" aria-label={t('dismiss')} title={t('dismiss')} onClick={() => model.dismiss(n.id)}>
            ×
          </button>
        </p>
      ));
  return (
    <div class="notices">
      <div role="status">{list('info')}</div>
      <div role="alert">{list('error')}</div>
    </div>
  );
}

type Dialog =
  | { kind: 'create' }
  | { kind: 'add'; category: string | null }
  | { kind: 'delete-category'; name: string }
  | { kind: 'rename-category'; name: string }
  | { kind: 'move'; jid: string; from: string | null }
  | { kind: 'delete-contact'; jid: string }
  | { kind: 'report'; jid: string }
  | { kind: 'start-room'; jid: string };

function Chat() {
  const model = useModel();
  const [current, setCurrent] = useState('root');
  const [menu, setMenu] = useState<{ node: TreeNode; x: number; y: number; from: HTMLElement } | null>(null);
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [focusEditor, setFocusEditor] = useState(0);
  const returnFocus = useRef<HTMLElement | null>(null);

  const focusTree = (key?: string) => {
    window.setTimeout(() => {
      const tree = document.querySelector('[role="tree"]');
      const byKey = key
        ? Array.from(tree?.querySelectorAll<HTMLElement>('[role="treeitem"]') ?? []).find(
            (el) => el.dataset.key === key,
          )
        : undefined;
      const el =
        byKey ??
        (returnFocus.current?.isConnected ? returnFocus.current : null) ??
        tree?.querySelector<HTMLElement>('[role="treeitem"][tabindex="0"]');
      el?.focus();
    }, 0);
  };

  const closeDialog = (focusKey?: string) => {
    setDialog(null);
    if (focusKey) setCurrent(focusKey);
    focusTree(focusKey);
  };

  const startConversation = (jid: string) => {
    model.openConversation(jid);
    setFocusEditor((n) => n + 1);
  };

  const menuItems = (node: TreeNode): MenuItem[] => {
    switch (node.kind) {
      case 'root':
        return [
          { label: t('createCategory'), onSelect: () => setDialog({ kind: 'create' }) },
          { label: t('addContacts'), onSelect: () => setDialog({ kind: 'add', category: null }) },
        ];
      case 'category':
        return [
          { label: t('addContacts'), onSelect: () => setDialog({ kind: 'add', category: node.name }) },
          { label: t('renameCategory'), onSelect: () => setDialog({ kind: 'rename-category', name: node.name }) },
          { label: t('deleteCategory'), onSelect: () => setDialog({ kind: 'delete-category', name: node.name }) },
          { label: t('createCategory'), onSelect: () => setDialog({ kind: 'create' }) },
        ];
      case 'others':
        return [
          { label: t('addContacts'), onSelect: () => setDialog({ kind: 'add', category: null }) },
          { label: t('createCategory'), onSelect: () => setDialog({ kind: 'create' }) },
        ];
      case 'contact': {
        const c = model.contacts.get(node.jid);
        const subscribed = c?.subscription === 'both' || c?.subscription === 'to';
        return [
          {
            label: t('startConversation'),
            disabled: !model.isActive(node.jid),
            onSelect: () => setDialog({ kind: 'start-room', jid: node.jid }),
          },
          // Offline too: the server keeps the messages until the contact's next login.
          { label: t('privateMessage'), disabled: !subscribed, onSelect: () => startConversation(node.jid) },
          {
            label: node.category === null ? t('putInCategory') : t('moveContact'),
            onSelect: () => setDialog({ kind: 'move', jid: node.jid, from: node.category }),
          },
          { label: t('deleteContact'), onSelect: () => setDialog({ kind: 'delete-contact', jid: node.jid }) },
          { label: t('report'), onSelect: () => setDialog({ kind: 'report', jid: node.jid }) },
        ];
      }
    }
  };

  /** A contact moved (dialog or drop): said, and focused in its new place. */
  const moved = (jid: string, to: string | null) => {
    model.notify(
      { key: 'contactMoved', params: { name: model.displayName(jid), to: to ?? t('otherContacts') } },
      'info',
      true,
    );
    const key = `contact\u0000${to ?? ''}\u0000${jid}`;
    setCurrent(key);
    focusTree(key);
  };

  const onActivate = (node: TreeNode) => {
    if (node.kind !== 'contact') return;
    const c = model.contacts.get(node.jid);
    if (c?.subscription === 'both' || c?.subscription === 'to') {
      startConversation(node.jid);
    } else if (model.conversation(node.jid)) {
      model.showConversation(node.jid);
    }
  };

  return (
    <div class="chat">
      <Header />
      {model.status === 'reconnecting' && (
        <p class="banner" role="status">
          {t('connectionLost')}
        </p>
      )}
      <SafetyBanners />
      <div class="panes">
        <LeftPane
          current={current}
          setCurrent={setCurrent}
          onActivate={onActivate}
          onMove={(jid, from, to) => {
            model
              .moveContact(jid, from, to)
              .then(() => moved(jid, to))
              .catch((e) => model.fail(e));
          }}
          onMenu={(node, x, y, from) => {
            returnFocus.current = from;
            setMenu({ node, x, y, from });
          }}
        />
        <Conversations focusEditor={focusEditor} />
      </div>
      <Notices />
      {menu && (
        <Menu
          key={menu.node.key}
          label={t('actionsFor', { name: menu.node.label })}
          items={menuItems(menu.node)}
          x={menu.x}
          y={menu.y}
          onClose={(restore) => {
            const from = menu.from;
            setMenu(null);
            if (restore) from.focus();
          }}
        />
      )}
      {dialog?.kind === 'create' && (
        <CreateCategoryDialog
          model={model}
          onDone={(name) => closeDialog(name ? `category\u0000${name}` : undefined)}
        />
      )}
      {dialog?.kind === 'add' && (
        <AddContactsDialog
          model={model}
          category={dialog.category}
          onDone={(jid) =>
            closeDialog(jid ? `contact\u0000${dialog.category ?? ''}\u0000${jid}` : undefined)
          }
        />
      )}
      {dialog?.kind === 'rename-category' && (
        <RenameCategoryDialog
          model={model}
          name={dialog.name}
          onDone={(name) => closeDialog(name ? `category\u0000${name}` : undefined)}
        />
      )}
      {dialog?.kind === 'move' && (
        <MoveContactDialog
          model={model}
          jid={dialog.jid}
          from={dialog.from}
          onDone={(to) => {
            const jid = dialog.jid;
            if (to === undefined) {
              closeDialog();
              return;
            }
            setDialog(null);
            moved(jid, to);
          }}
        />
      )}
      {dialog?.kind === 'delete-category' && (
        <ConfirmDialog
          title={t('deleteCategory')}
          text={t('confirmDeleteCategory', { name: dialog.name })}
          onAnswer={(yes) => {
            const name = dialog.name;
            closeDialog(yes ? 'root' : undefined);
            if (yes) model.deleteCategory(name).catch((e) => model.fail(e));
          }}
        />
      )}
      {dialog?.kind === 'start-room' && (
        <StartRoomDialog
          model={model}
          invitee={dialog.jid}
          onDone={(room) => {
            if (room) {
              setDialog(null);
              window.setTimeout(() => setFocusEditor((n) => n + 1), 0);
            } else {
              closeDialog();
            }
          }}
        />
      )}
      {dialog?.kind === 'report' && (
        <ReportDialog
          model={model}
          jid={dialog.jid}
          onDone={(sent) => {
            closeDialog();
            if (sent) model.notify({ key: 'reportSent' }, 'info', true);
          }}
        />
      )}
      {dialog?.kind === 'delete-contact' && (
        <ConfirmDialog
          title={t('deleteContact')}
          text={t('confirmDeleteContact', { name: model.displayName(dialog.jid) })}
          onAnswer={(yes) => {
            const jid = dialog.jid;
            closeDialog();
            if (yes) model.removeContact(jid).catch((e) => model.fail(e));
          }}
        />
      )}
    </div>
  );
}
