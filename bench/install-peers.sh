#!/usr/bin/env bash
# Installs the peers of the side-by-side benchmark from Debian's packages when missing:
# Prosody and ejabberd. The system services are not used (each run starts its own instance
# on loopback ports with its own config and data): we keep the package scripts from
# starting them (policy-rc.d), and stop them if they were running before.
set -euo pipefail
need=()
command -v prosody >/dev/null || need+=(prosody)
command -v ejabberdctl >/dev/null || need+=(ejabberd)
# ejabberdctl import_prosody (our roster import means) needs luerl.
dpkg-query -W -f="\${Status}" erlang-luerl 2>/dev/null | grep -q "ok installed" || need+=(erlang-luerl)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  if [ "$created_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi
prosody_version=$(dpkg-query -W -f='${Version}' prosody)
ejabberd_version=$(dpkg-query -W -f='${Version}' ejabberd)
echo "prosody $prosody_version, ejabberd $ejabberd_version"
