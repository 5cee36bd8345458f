"""XEP-0280 message carbons: a conversation follows the user on every device."""

from __future__ import annotations

import xml.etree.ElementTree as ET

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"


async def enable_carbons(c):
    iq = c.xmpp.make_iq_set()
    iq.xml.append(ET.Element(f"{{{NS_CARBONS}}}enable"))
    reply = await c.iq(iq)
    assert reply["type"] == "result", reply


def forwarded_body(st, direction):
    el = st.xml.find(f"{{{NS_CARBONS}}}{direction}/{{{NS_FORWARD}}}forwarded/{{jabber:client}}message")
    if el is None:
        return None
    body = el.find("{jabber:client}body")
    return (el.get("from"), el.get("to"), body.text if body is not None else None)


async def test_carbons_copy_sent_and_received_messages(make_user, clients):
    alice, bob = make_user("alice"), make_user("bob")
    phone = await clients.login(alice, "phone")
    laptop = await clients.login(alice, "laptop")
    b = await clients.login(bob, "pc")
    await enable_carbons(laptop)

    # The server advertises the feature.
    info = await phone.xmpp["xep_0030"].get_info(jid=phone.xmpp.boundjid.domain)
    assert NS_CARBONS in info["disco_info"]["features"]

    # Bob writes to Alice's phone: her laptop gets a <received/> copy.
    mark = laptop.mark()
    b.xmpp.send_message(mto=phone.full, mbody="pour le téléphone", mtype="chat")
    await phone.wait_message(body="pour le téléphone")
    st = await laptop.wait_for(lambda s: forwarded_body(s, "received") is not None, start=mark)
    frm, to, body = forwarded_body(st, "received")
    assert (frm, to, body) == (b.full, phone.full, "pour le téléphone")
    assert st["from"] == alice.jid  # carbons come from the user's own bare JID

    # Alice answers from her phone: the laptop gets a <sent/> copy.
    mark = laptop.mark()
    phone.xmpp.send_message(mto=bob.jid, mbody="réponse", mtype="chat")
    await b.wait_message(body="réponse")
    st = await laptop.wait_for(lambda s: forwarded_body(s, "sent") is not None, start=mark)
    assert forwarded_body(st, "sent") == (phone.full, bob.jid, "réponse")

    # A message marked <private/> is not copied; the phone (carbons off) never gets copies.
    mark = laptop.mark()
    msg = phone.xmpp.make_message(mto=bob.jid, mbody="privé", mtype="chat")
    msg.xml.append(ET.Element(f"{{{NS_CARBONS}}}private"))
    msg.send()
    await b.wait_message(body="privé")
    await laptop.expect_none(lambda s: forwarded_body(s, "sent") is not None, duration=1.0, start=mark)
    assert not phone.matching(lambda s: forwarded_body(s, "received") or forwarded_body(s, "sent"))
