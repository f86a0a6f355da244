#!/bin/sh
# Installs the Debian packages that `make test` and `make demo` need, when any is
# missing, plus any package named as an argument. Safe to run again: it does
# nothing when everything is present.
set -eu

pkgs="pcscd libpcsclite-dev pkg-config vsmartcard-vpcd softhsm2 opensc opensc-pkcs11 \
yubico-piv-tool ykcs11 age git ca-certificates gcc libc6-dev procps iproute2 python3 zbar-tools \
python3-icalendar chromium awscli curl asciinema $*"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "breakglass: missing Debian packages:$missing" >&2
		echo "breakglass: hint: run as root, or: sudo apt-get install -y$missing" >&2
		exit 1
	fi
	echo "breakglass: installing Debian packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $missing
fi

if ! command -v go >/dev/null 2>&1; then
	echo "breakglass: Go 1.26 or newer is required (Debian's golang is too old); see README.md" >&2
	exit 1
fi
