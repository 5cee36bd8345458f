// The left pane: the tabs « Contacts » and « Mes demandes » (APG tabs, with
// automatic activation), the contact tree (APG tree view: one tab stop,
// arrows move, Right/Left open and close, Home/End) and the requests list.
//
// The tree: « Tous mes contacts », each category with its count « (n) », its
// contacts with their coloured light, and « Autres contacts » for contacts
// without a category. Every node has a context menu, opened by a right-click,
// the context-menu key, Shift+F10, the « Actions » button above the tree, or
// the « ⋯ » that appears on the row under the mouse. A contact can be dragged
// onto a category (or « Autres contacts ») to move it there; its menu's
// « Déplacer vers une autre catégorie » does the same from the keyboard.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { say, t } from './i18n';
import { useModel } from './hooks';
import type { ContactState, Model } from './model';

export type TreeNode =
  | { key: string; kind: 'root'; label: string; children: TreeNode[] }
  | { key: string; kind: 'category'; label: string; name: string; children: TreeNode[] }
  | { key: string; kind: 'others'; label: string; children: TreeNode[] }
  | { key: string; kind: 'contact'; label: string; jid: string; category: string | null };

export function buildTree(model: Model): TreeNode {
  const contactNode = (jid: string, category: string | null): TreeNode => ({
    key: `contact\u0000${category ?? ''}\u0000${jid}`,
    kind: 'contact',
    label: model.displayName(jid),
    jid,
    category,
  });
  const children: TreeNode[] = model.categories().map((name) => {
    const members = model.contactsIn(name);
    return {
      key: `category\u0000${name}`,
      kind: 'category',
      name,
      label: t('categoryCount', { name, n: members.length }),
      children: members.map((c) => contactNode(c.jid, name)),
    };
  });
  const others = model.contactsIn(null);
  if (others.length > 0) {
    children.push({
      key: 'others',
      kind: 'others',
      label: t('categoryCount', { name: t('otherContacts'), n: others.length }),
      children: others.map((c) => contactNode(c.jid, null)),
    });
  }
  return { key: 'root', kind: 'root', label: t('allContacts'), children };
}

function visible(node: TreeNode, collapsed: Set<string>, out: TreeNode[] = []): TreeNode[] {
  out.push(node);
  if (node.kind !== 'contact' && !collapsed.has(node.key)) {
    for (const c of node.children) visible(c, collapsed, out);
  }
  return out;
}

function parentOf(root: TreeNode, key: string): TreeNode | undefined {
  if (root.kind === 'contact') return undefined;
  for (const c of root.children) {
    if (c.key === key) return root;
    const p = parentOf(c, key);
    if (p) return p;
  }
  return undefined;
}

export function Dot({ state }: { state: ContactState }) {
  return <span class={`dot dot-${state}`} aria-hidden="true" />;
}

/** What a contact's row says besides the name. */
export function contactStatus(model: Model, jid: string): { state: ContactState; text: string; shown: boolean } {
  const c = model.contacts.get(jid);
  if (c?.refused) return { state: 'offline', text: t('refused'), shown: true };
  if (c?.ask && c.subscription !== 'both' && c.subscription !== 'to') {
    return { state: 'offline', text: t('pending'), shown: true };
  }
  const state = c && (c.subscription === 'both' || c.subscription === 'to') ? model.stateOf(jid) : 'offline';
  return { state, text: t(state), shown: false };
}

interface TreeProps {
  /** Open the context menu of `node`, at (x, y), given back focus to `from`. */
  onMenu: (node: TreeNode, x: number, y: number, from: HTMLElement) => void;
  onActivate: (node: TreeNode) => void;
  /** A contact dropped on a category (`to`; null: « Autres contacts »). */
  onMove: (jid: string, from: string | null, to: string | null) => void;
  current: string;
  setCurrent: (key: string) => void;
}

/** The type of what a contact's row carries while dragged. */
const DRAG_TYPE = 'application/x-causerie-contact';

export function ContactTree({ onMenu, onActivate, onMove, current, setCurrent }: TreeProps) {
  const model = useModel();
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  /** The row a dragged contact is over (a category or « Autres contacts »). */
  const [dropKey, setDropKey] = useState<string | null>(null);
  const treeRef = useRef<HTMLUListElement>(null);
  const root = buildTree(model);
  const items = visible(root, collapsed);
  const ids = useMemo(() => new Map<string, string>(), []);
  const idOf = (key: string) => {
    let id = ids.get(key);
    if (!id) {
      id = `tree-node-${ids.size + 1}`;
      ids.set(key, id);
    }
    return id;
  };
  const currentKey = items.some((n) => n.key === current) ? current : 'root';

  const focusKey = (key: string) => {
    setCurrent(key);
    const el = treeRef.current?.querySelector<HTMLElement>(`[id="${idOf(key)}"]`);
    el?.focus();
  };

  // If the focused node went away (a contact was deleted), focus its parent row.
  const hadFocus = useRef(false);
  useEffect(() => {
    if (currentKey !== current) {
      setCurrent(currentKey);
      if (hadFocus.current) focusKey(currentKey);
    }
  });

  const toggle = (key: string, open?: boolean) => {
    const next = new Set(collapsed);
    const isOpen = !collapsed.has(key);
    if (open ?? !isOpen) next.delete(key);
    else next.add(key);
    setCollapsed(next);
  };

  const nodeOf = (target: EventTarget | null): TreeNode | undefined => {
    const el = (target as HTMLElement | null)?.closest<HTMLElement>('[role="treeitem"]');
    const key = el?.dataset.key;
    return items.find((n) => n.key === key);
  };

  const openMenuFor = (node: TreeNode, x?: number, y?: number) => {
    const el = treeRef.current?.querySelector<HTMLElement>(`[id="${idOf(node.key)}"]`);
    if (!el) return;
    setCurrent(node.key);
    const r = el.getBoundingClientRect();
    onMenu(node, x ?? r.left + 24, y ?? r.bottom, el);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const i = items.findIndex((n) => n.key === currentKey);
    const node = items[i];
    if (!node) return;
    const expandable = node.kind !== 'contact' && node.children.length > 0;
    const open = expandable && !collapsed.has(node.key);
    if ((e.key === 'F10' && e.shiftKey) || e.key === 'ContextMenu') {
      openMenuFor(node);
    } else if (e.key === 'ArrowDown') {
      if (i + 1 < items.length) focusKey(items[i + 1].key);
    } else if (e.key === 'ArrowUp') {
      if (i > 0) focusKey(items[i - 1].key);
    } else if (e.key === 'Home') {
      focusKey(items[0].key);
    } else if (e.key === 'End') {
      focusKey(items[items.length - 1].key);
    } else if (e.key === 'ArrowRight') {
      if (expandable && !open) toggle(node.key, true);
      else if (open) focusKey(node.children[0].key);
    } else if (e.key === 'ArrowLeft') {
      if (open) toggle(node.key, false);
      else {
        const p = parentOf(root, node.key);
        if (p) focusKey(p.key);
      }
    } else if (e.key === 'Enter') {
      onActivate(node);
    } else {
      return;
    }
    e.preventDefault();
    e.stopPropagation();
  };

  // The tree is rendered flat (APG: aria-level, aria-setsize, aria-posinset):
  // each treeitem holds its own row only, so that its visible text is its name.
  const levels = new Map<string, { level: number; size: number; pos: number }>();
  const place = (node: TreeNode, level: number, size: number, pos: number) => {
    levels.set(node.key, { level, size, pos });
    if (node.kind !== 'contact') node.children.forEach((c, i) => place(c, level + 1, node.children.length, i + 1));
  };
  place(root, 1, 1, 1);

  const render = (node: TreeNode) => {
    const id = idOf(node.key);
    const { level, size, pos } = levels.get(node.key)!;
    const isCurrent = node.key === currentKey;
    const hasChildren = node.kind !== 'contact' && node.children.length > 0;
    const open = hasChildren && !collapsed.has(node.key);
    const status = node.kind === 'contact' ? contactStatus(model, node.jid) : undefined;
    const unread =
      node.kind === 'contact'
        ? model.unreadOf(node.jid)
        : node.kind === 'category'
          ? model.unreadIn(node.name)
          : node.kind === 'others'
            ? model.unreadIn(null)
            : 0;
    // The name: the label, a shown status, the unread count (visible, so part of the name).
    const labelledBy = [`${id}-label`, status?.shown && `${id}-status`, unread > 0 && `${id}-unread`].filter(Boolean);
    const dropTo = node.kind === 'category' ? node.name : node.kind === 'others' ? null : undefined;
    const dropHandlers =
      dropTo === undefined
        ? {}
        : {
            onDragOver: (e: DragEvent) => {
              if (!e.dataTransfer?.types.includes(DRAG_TYPE)) return;
              e.preventDefault();
              e.dataTransfer.dropEffect = 'move';
              if (dropKey !== node.key) setDropKey(node.key);
            },
            onDragLeave: () => {
              if (dropKey === node.key) setDropKey(null);
            },
            onDrop: (e: DragEvent) => {
              setDropKey(null);
              const raw = e.dataTransfer?.getData(DRAG_TYPE);
              if (!raw) return;
              e.preventDefault();
              try {
                const { jid, from } = JSON.parse(raw) as { jid?: unknown; from?: unknown };
                if (typeof jid === 'string' && (typeof from === 'string' || from === null) && from !== dropTo) {
                  onMove(jid, from, dropTo);
                }
              } catch {
                // Not one of our rows.
              }
            },
          };
    return (
      <li
        key={node.key}
        id={id}
        role="treeitem"
        data-key={node.key}
        data-kind={node.kind}
        data-state={status?.state}
        aria-level={level}
        aria-setsize={size}
        aria-posinset={pos}
        aria-expanded={hasChildren ? (open ? 'true' : 'false') : undefined}
        aria-selected={isCurrent ? 'true' : 'false'}
        aria-labelledby={labelledBy.join(' ')}
        aria-describedby={status && !status.shown ? `${id}-status` : undefined}
        tabIndex={isCurrent ? 0 : -1}
        class={`row level-${level}${dropKey === node.key ? ' drop-target' : ''}`}
        draggable={node.kind === 'contact' ? true : undefined}
        onDragStart={
          node.kind === 'contact'
            ? (e: DragEvent) => {
                e.dataTransfer?.setData(DRAG_TYPE, JSON.stringify({ jid: node.jid, from: node.category }));
                if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
              }
            : undefined
        }
        onDragEnd={() => setDropKey(null)}
        {...dropHandlers}
        onFocus={() => {
          hadFocus.current = true;
          setCurrent(node.key);
        }}
        onBlur={() => {
          hadFocus.current = false;
        }}
        onClick={(e) => {
          focusKey(node.key);
          if (hasChildren && (e.target as HTMLElement).closest('.twisty')) toggle(node.key);
        }}
        onDblClick={() => onActivate(node)}
      >
        {node.kind !== 'contact' && (
          <span class="twisty" aria-hidden="true">
            {hasChildren ? (open ? '▾' : '▸') : ''}
          </span>
        )}
        {status && <Dot state={status.state} />}
        <span id={`${id}-label`} class="label">
          {node.label}
        </span>{' '}
        {status && (
          <span id={`${id}-status`} class={status.shown ? 'status' : 'sr-only'}>
            {status.text}
          </span>
        )}
        {unread > 0 && (
          <>
            <span class="badge" aria-hidden="true">
              {unread}
            </span>
            <span id={`${id}-unread`} class="sr-only">
              {t('unread', { n: unread })}
            </span>
          </>
        )}
        <button
          type="button"
          class="row-menu"
          tabIndex={-1}
          aria-hidden="true"
          title={t('actionsFor', { name: node.label })}
          onClick={(e) => {
            e.stopPropagation();
            const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
            openMenuFor(node, r.left, r.bottom);
          }}
        >
          ⋯
        </button>
      </li>
    );
  };

  return (
    <div class="tree-wrap">
      <div class="tree-toolbar">
        <button
          type="button"
          aria-haspopup="menu"
          onClick={(e) => {
            const node = items.find((n) => n.key === currentKey) ?? root;
            const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
            const el = treeRef.current?.querySelector<HTMLElement>(`[id="${idOf(node.key)}"]`);
            if (el) onMenu(node, r.left, r.bottom, el);
          }}
        >
          {t('actions')} <span aria-hidden="true">▾</span>
        </button>
      </div>
      <ul
        ref={treeRef}
        role="tree"
        aria-label={t('contactTree')}
        class="tree"
        onKeyDown={onKeyDown}
        onContextMenu={(e) => {
          const node = nodeOf(e.target);
          if (!node) return;
          e.preventDefault();
          // A mouse right-click has coordinates; the keyboard's has (0, 0) or the element's.
          const fromMouse = e.button === 2 && (e.clientX !== 0 || e.clientY !== 0);
          openMenuFor(node, fromMouse ? e.clientX : undefined, fromMouse ? e.clientY : undefined);
        }}
      >
        {items.map((n) => render(n))}
      </ul>
      {model.contacts.size === 0 && model.savedCategories.length === 0 ? (
        <p class="empty">{t('noContacts')}</p>
      ) : (
        <p class="hint tree-hint">{t('dragHint')}</p>
      )}
    </div>
  );
}

/** « Mes demandes »: contact requests and invitations to conversations, each with « Accepter » / « Refuser ». */
export function Requests() {
  const model = useModel();
  if (model.requests.length === 0 && model.rooms.invites.length === 0) {
    return <p class="empty">{t('requestsNone')}</p>;
  }
  return (
    <ul class="requests" aria-label={t('requestsList')}>
      {model.rooms.invites.map((inv, i) => {
        const textId = `invite-${i}-text`;
        return (
          <li key={inv.room} class="request">
            <span id={textId} class="request-name">
              {say(inv.say)}
            </span>
            <span class="request-kind">{t('roomInvitation')}</span>
            {inv.reason && <span class="request-reason">« {inv.reason} »</span>}
            <span class="request-buttons">
              <button
                type="button"
                class="primary"
                aria-describedby={textId}
                onClick={() => model.rooms.accept(inv.room)}
              >
                {t('accept')}
              </button>
              <button type="button" aria-describedby={textId} onClick={() => model.rooms.refuse(inv.room)}>
                {t('refuse')}
              </button>
            </span>
          </li>
        );
      })}
      {model.requests.map((jid, i) => {
        const nameId = `request-${i}-name`;
        return (
          <li key={jid} class="request">
            <span id={nameId} class="request-name">
              {model.displayName(jid)}
            </span>
            <span class="request-kind">{t('contactRequest')}</span>
            <span class="request-buttons">
              <button type="button" class="primary" aria-describedby={nameId} onClick={() => model.accept(jid)}>
                {t('accept')}
              </button>
              <button type="button" aria-describedby={nameId} onClick={() => model.refuse(jid)}>
                {t('refuse')}
              </button>
            </span>
          </li>
        );
      })}
    </ul>
  );
}

/** The two tabs of the left pane. */
export function LeftPane(props: TreeProps) {
  const model = useModel();
  const [tab, setTab] = useState<'contacts' | 'requests'>('contacts');
  const n = model.requests.length + model.rooms.invites.length;
  const tabs = [
    { id: 'contacts' as const, label: t('tabContacts') },
    { id: 'requests' as const, label: n > 0 ? t('tabRequestsCount', { n }) : t('tabRequests') },
  ];
  const onKeyDown = (e: KeyboardEvent) => {
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
    e.preventDefault();
    const next = tab === 'contacts' ? 'requests' : 'contacts';
    const target = e.key === 'Home' ? 'contacts' : e.key === 'End' ? 'requests' : next;
    setTab(target);
    document.getElementById(`tab-${target}`)?.focus();
  };
  return (
    <section class="left">
      <div role="tablist" class="tabs" aria-label={t('appTitle')} onKeyDown={onKeyDown}>
        {tabs.map((tb) => (
          <button
            key={tb.id}
            id={`tab-${tb.id}`}
            type="button"
            role="tab"
            aria-selected={tab === tb.id ? 'true' : 'false'}
            aria-controls={`panel-${tb.id}`}
            tabIndex={tab === tb.id ? 0 : -1}
            onClick={() => setTab(tb.id)}
          >
            {tb.label}
          </button>
        ))}
      </div>
      <div id="panel-contacts" role="tabpanel" aria-labelledby="tab-contacts" hidden={tab !== 'contacts'} class="panel">
        <ContactTree {...props} />
      </div>
      <div id="panel-requests" role="tabpanel" aria-labelledby="tab-requests" hidden={tab !== 'requests'} class="panel">
        <Requests />
      </div>
    </section>
  );
}
