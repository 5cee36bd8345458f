"""Prepare a Gajim profile for test_gajim.py, with Gajim's own code, as the
account wizard and the certificate box would leave it.

    python3 prepare.py CONFIG.json

Run as the (non-root) test user with HOME set to the profile's home. CONFIG
holds: account (the account's name in Gajim), user, domain, password, host,
port, cert_pem (the server's certificate) and plugin (the probe's short name).

- the account: ``CoreApplication.create_account``'s settings (name, hostname,
  resource, label, custom host and port over STARTTLS), enabled, with the
  password kept in Gajim's settings (``use_keyring`` off: there is no keyring
  under Xvfb) as ``passwords.save_password`` does without a keyring;
- the certificate: written into Gajim's certificate store
  (``configpaths.get('CERT_STORE')``), which is what « Add to Trusted
  Certificates » does (``CertificateStore.add_certificate``);
- the probe plugin: marked active (``Settings.set_plugin_setting``), as the
  plugin manager's switch does; the plugin files are already in
  ``configpaths.get('PLUGINS_USER')``;
- first-start chatter off (update check, help hints).
"""

from __future__ import annotations

import json
import sys

from gajim.common import configpaths


def main(config_path: str) -> int:
    cfg = json.loads(open(config_path, encoding="utf-8").read())
    configpaths.init()
    configpaths.create_paths()

    from gajim.common.settings import Settings

    settings = Settings()
    settings.init()
    settings.set_app_setting("use_keyring", False)
    settings.set_app_setting("check_for_update", False)
    settings.set_app_setting("show_help_start_chat", False)

    account = cfg["account"]
    if account not in settings.get_accounts():
        settings.add_account(account)
    values = {
        "name": cfg["user"],
        "hostname": cfg["domain"],
        "resource": "gajim.probe",
        "account_label": f"{cfg['user']}@{cfg['domain']}",
        "use_custom_host": True,
        "custom_host": cfg["host"],
        "custom_port": int(cfg["port"]),
        "custom_type": "START TLS",
        "savepass": True,
        "password": cfg["password"],
        "active": True,
    }
    for key, value in values.items():
        settings.set_account_setting(account, key, value)
    settings.set_plugin_setting(cfg["plugin"], "active", True)
    settings.save()

    store = configpaths.get("CERT_STORE")
    store.mkdir(parents=True, exist_ok=True)
    (store / "causerie-test").write_text(cfg["cert_pem"], encoding="ascii")
    print(json.dumps({"settings": str(configpaths.get("SETTINGS")),
                      "plugins": str(configpaths.get("PLUGINS_USER")),
                      "cert_store": str(store)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
