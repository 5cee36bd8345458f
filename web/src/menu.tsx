// ARIA menus (WAI-ARIA APG "menu" pattern): the contact tree's context menus
// and the state menu. Opened with focus on the first enabled item; Up/Down
// (wrapping), Home/End and a typed first letter move; Enter or Space
// activates; Escape closes and gives focus back to what opened the menu; Tab
// or a click outside closes. Disabled items stay in the menu
// (aria-disabled) so that everyone learns they exist.

import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';

export interface MenuItem {
  label: string;
  disabled?: boolean;
  /** For menuitemradio items: whether this one is chosen. */
  checked?: boolean;
  onSelect: () => void;
}

export interface MenuProps {
  label: string;
  items: MenuItem[];
  x: number;
  y: number;
  radio?: boolean;
  /** `restoreFocus` is false when the menu closes because focus went elsewhere. */
  onClose: (restoreFocus: boolean) => void;
}

export function Menu({ label, items, x, y, radio, onClose }: MenuProps) {
  const ref = useRef<HTMLUListElement>(null);

  const itemEls = () =>
    Array.from(ref.current?.querySelectorAll<HTMLElement>('[data-menu-item]') ?? []);

  useLayoutEffect(() => {
    const menu = ref.current;
    if (!menu) return;
    // Keep the menu inside the window.
    const r = menu.getBoundingClientRect();
    const left = Math.max(4, Math.min(x, window.innerWidth - r.width - 4));
    const top = Math.max(4, Math.min(y, window.innerHeight - r.height - 4));
    menu.style.left = `${left}px`;
    menu.style.top = `${top}px`;
    const els = itemEls();
    const first = els.find((el) => el.getAttribute('aria-disabled') !== 'true') ?? els[0];
    first?.focus();
  }, []);

  useEffect(() => {
    const outside = (e: Event) => {
      if (ref.current && !ref.current.contains(e.target as Node)) onClose(false);
    };
    document.addEventListener('mousedown', outside, true);
    return () => document.removeEventListener('mousedown', outside, true);
  }, [onClose]);

  const activate = (item: MenuItem) => {
    if (item.disabled) return;
    onClose(true);
    item.onSelect();
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const els = itemEls();
    const i = els.indexOf(document.activeElement as HTMLElement);
    const move = (j: number) => els[(j + els.length) % els.length]?.focus();
    switch (e.key) {
      case 'ArrowDown':
        move(i + 1);
        break;
      case 'ArrowUp':
        move(i - 1);
        break;
      case 'Home':
        move(0);
        break;
      case 'End':
        move(els.length - 1);
        break;
      case 'Escape':
        onClose(true);
        break;
      case 'Tab':
        onClose(false);
        return;
      case 'Enter':
      case ' ':
        if (i >= 0) activate(items[i]);
        break;
      default:
        if (e.key.length === 1 && /\S/.test(e.key)) {
          const k = e.key.toLocaleLowerCase();
          const order = [...els.slice(i + 1), ...els.slice(0, i + 1)];
          order.find((el) => el.textContent?.trim().toLocaleLowerCase().startsWith(k))?.focus();
          break;
        }
        return;
    }
    e.preventDefault();
    e.stopPropagation();
  };

  return (
    <ul
      ref={ref}
      role="menu"
      aria-label={label}
      class="menu"
      style={{ left: `${x}px`, top: `${y}px` }}
      onKeyDown={onKeyDown}
      onContextMenu={(e) => e.preventDefault()}
    >
      {items.map((item) => (
        <li
          key={item.label}
          role={radio ? 'menuitemradio' : 'menuitem'}
          aria-checked={radio ? (item.checked ? 'true' : 'false') : undefined}
          aria-disabled={item.disabled ? 'true' : undefined}
          tabIndex={-1}
          data-menu-item
          onClick={() => activate(item)}
        >
          {radio && (
            <span class="check" aria-hidden="true">
              {item.checked ? '✓' : ''}
            </span>
          )}
          {item.label}
        </li>
      ))}
    </ul>
  );
}

/** Where a menu opened from `el` by the keyboard or a button should appear. */
export function below(el: Element): { x: number; y: number } {
  const r = el.getBoundingClientRect();
  return { x: r.left + 16, y: r.bottom };
}
