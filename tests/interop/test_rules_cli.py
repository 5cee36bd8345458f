"""`causerie rules show|set|reset`: a structure's communication rules are
edited from the command line and hold from the next stanza on."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from directory_fixture import assert_refusal
from test_directory import make_school  # noqa: F401  (pytest fixture)

STRUCTURE = "0750001A"


def vcard_get(client, jid):
    iq = client.xmpp.make_iq_get(ito=jid)
    iq.xml.append(ET.Element("{vcard-temp}vCard"))
    return iq


async def test_rules_edit_and_reset_change_who_may_reach_whom(make_school, tmp_path):
    sch = make_school()
    srv = sch.srv
    shown = json.loads(srv.cli("rules", "show", STRUCTURE).stdout)
    assert {"from": ["student"], "to": ["student"], "scope": "same_class", "two_way": True} in shown

    lea = await sch.login("lea.martin")  # 6e A
    noah = sch.jid("noah.robert")  # 6e B, in no group with Léa
    reply = await lea.iq(vcard_get(lea, noah))
    assert reply["type"] == "error"
    assert_refusal(reply)

    # Pupils of the whole structure may now reach each other.
    custom = shown + [{"from": ["student"], "to": ["student"], "scope": "same_structure", "two_way": True}]
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(custom))
    assert f"{len(custom)} rules set" in srv.cli("rules", "set", STRUCTURE, str(path)).stdout
    reply = await lea.iq(vcard_get(lea, noah))
    assert reply["type"] == "result", reply

    # A malformed rules file is refused, names the entry and field, and changes nothing.
    path.write_text('[{"from": ["student"], "to": [], "scope": "same_class"}]')
    bad = srv.cli("rules", "set", STRUCTURE, str(path), check=False)
    assert bad.returncode != 0
    assert "rules[0]" in bad.stderr and "to" in bad.stderr, bad.stderr
    assert (await lea.iq(vcard_get(lea, noah)))["type"] == "result"

    # Back to the defaults: refused again, from the next stanza on.
    srv.cli("rules", "reset", STRUCTURE)
    reply = await lea.iq(vcard_get(lea, noah))
    assert reply["type"] == "error"
    assert_refusal(reply)
    assert json.loads(srv.cli("rules", "show", STRUCTURE).stdout) == shown
