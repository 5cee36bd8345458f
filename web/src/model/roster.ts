// The roster's state: contacts (the seed's categories are roster groups),
// their presence per resource, the names from vCards, the contact requests
// received (« Mes demandes ») and the categories kept in private storage
// (empty ones included). Pure state and what is derived from it; the model
// feeds it.

import { byName } from '../shared/i18n';
import { type RosterItem, type Show, type Subscription, bareJid } from '../xmpp/stanzas';

export type ContactState = Show | 'offline';

export interface Contact {
  jid: string;
  name?: string;
  groups: string[];
  subscription: Subscription;
  ask: boolean;
  refused: boolean;
}

const RANK: Record<Show, number> = { available: 3, away: 2, dnd: 1 };

export class Roster {
  contacts = new Map<string, Contact>();
  /** Full names from vCards (« NOM Prénom »), by bare JID. */
  names = new Map<string, string>();
  /** Presence per bare JID, then per resource. */
  presence = new Map<string, Map<string, { show: Show; priority: number }>>();
  /** Contact requests received, oldest first. */
  requests: string[] = [];
  /**
   * The categories kept on the server (private storage), in their order:
   * those created or renamed in the client, empty ones included. A category
   * is also any roster group (a contact put in it by another client).
   */
  savedCategories: string[] = [];

  /** Whether we see the contact's state (our subscription to them). */
  subscribed(jid: string): boolean {
    const c = this.contacts.get(bareJid(jid));
    return c?.subscription === 'both' || c?.subscription === 'to';
  }

  /**
   * The seed's « contacts actifs », one rule wherever the client offers
   * someone a conversation with several people (« Commencer conversation »
   * and « Inviter contact »): a contact who accepted our request (so that we
   * see their state) and whose state is « Disponible » (the green light, as
   * the seed asks for « Commencer conversation »). « Absent » (also set by
   * inactivity), « Ne pas déranger » and « Hors ligne » are not active.
   */
  isActive(jid: string): boolean {
    return this.subscribed(jid) && this.stateOf(jid) === 'available';
  }

  stateOf(jid: string): ContactState {
    const resources = this.presence.get(bareJid(jid));
    if (!resources || resources.size === 0) return 'offline';
    let best: { show: Show; priority: number } | undefined;
    for (const r of resources.values()) {
      if (!best || r.priority > best.priority || (r.priority === best.priority && RANK[r.show] > RANK[best.show])) {
        best = r;
      }
    }
    return best?.show ?? 'offline';
  }

  /** Every category (roster groups and saved ones), sorted. */
  categories(): string[] {
    const names = new Set<string>(this.savedCategories);
    for (const c of this.contacts.values()) for (const g of c.groups) names.add(g);
    return [...names].sort(byName);
  }

  /** The contacts of a category (null: those in none, « Autres contacts »), unsorted. */
  members(category: string | null): Contact[] {
    return [...this.contacts.values()].filter((c) =>
      category === null ? c.groups.length === 0 : c.groups.includes(category),
    );
  }

  groupCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.contacts.values()) {
      for (const g of c.groups) counts.set(g, (counts.get(g) ?? 0) + 1);
    }
    return counts;
  }

  setPresence(jid: string, resource: string, p: { show: Show; priority: number } | undefined): void {
    const bare = bareJid(jid);
    const resources = this.presence.get(bare) ?? new Map();
    if (p) resources.set(resource, p);
    else resources.delete(resource);
    this.presence.set(bare, resources);
  }

  /** A roster item from the server (result or push). */
  apply(item: RosterItem): void {
    if (item.subscription === 'remove') {
      this.contacts.delete(item.jid);
      this.presence.delete(item.jid);
      return;
    }
    const contact: Contact = { ...item, subscription: item.subscription };
    this.contacts.set(item.jid, contact);
    if (contact.subscription === 'none' || contact.subscription === 'from') this.presence.delete(item.jid);
    if (contact.subscription === 'both' || contact.subscription === 'from') {
      this.requests = this.requests.filter((r) => r !== item.jid);
    }
  }
}
