// Sharing files (XEP-0363): the server's upload service, found at login among
// its items (it lists it only for users whose school allows sharing), and
// sending a file: checked here first (size, type), then a slot, the PUT, and
// a message carrying the URL (with XEP-0066 in 1:1). What goes wrong is an
// ActionError with a `Say`, as elsewhere in the model.

import * as U from '../xmpp/upload';
import { ActionError, newId } from './conversation';

/** What Upload needs of the model (declared here so that it does not import the model). */
export interface UploadHost {
  readonly config: { domain: string };
  iq(stanza: Element): Promise<Element>;
  changed(): void;
  sendFileUrl(jid: string, url: string, id: string): void;
}

export class Upload {
  /** The service's JID, when the server offers it to this user. */
  service?: string;
  maxBytes?: number;

  constructor(private readonly model: UploadHost) {}

  get available(): boolean {
    return this.service !== undefined;
  }

  /** Looks for the service among the server's items (at each login). */
  async discover(): Promise<void> {
    this.service = undefined;
    const domain = this.model.config.domain;
    try {
      const items = await this.model.iq(U.discoItems(domain));
      for (const jid of Array.from(items.getElementsByTagName('item'), (i) => i.getAttribute('jid') ?? '')) {
        if (jid !== `upload.${domain}`) continue;
        const info = U.parseUploadInfo(await this.model.iq(U.discoInfo(jid)));
        if (info) {
          this.service = jid;
          this.maxBytes = info.maxBytes;
        }
      }
    } catch {
      // No service: no paperclip.
    }
    this.model.changed();
  }

  /** Sends `file` to conversation `jid`; rejects with an ActionError saying why. */
  async send(jid: string, file: File): Promise<void> {
    const service = this.service;
    if (!service) throw new ActionError({ key: 'fileSharingOff' });
    const refused = U.checkFile(file, this.maxBytes);
    if (refused === 'tooLarge') {
      // In megabytes, one decimal (the catalogue says the unit).
      const max = Math.round(((this.maxBytes ?? 0) / (1024 * 1024)) * 10) / 10;
      throw new ActionError({ key: 'fileTooLarge', params: { max } });
    }
    if (refused === 'badType') throw new ActionError({ key: 'fileTypeRefused' });
    if (refused === 'empty') throw new ActionError({ key: 'fileEmpty' });
    const slot = U.parseSlot(await this.model.iq(U.slotRequest(service, file.name, file.size, file.type)));
    if (!slot) throw new ActionError({ key: 'fileSendFailed' });
    let ok = false;
    try {
      const r = await fetch(slot.put, {
        method: 'PUT',
        body: file,
        headers: { 'Content-Type': file.type, ...slot.headers },
        credentials: 'omit',
      });
      ok = r.ok;
    } catch {
      ok = false;
    }
    if (!ok) throw new ActionError({ key: 'fileSendFailed' });
    this.model.sendFileUrl(jid, slot.get, newId());
  }
}
