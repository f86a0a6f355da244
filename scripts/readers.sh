#!/bin/sh
# Configures extra vsmartcard vpcd readers for pcscd, so that tests can run
# several virtual cards at once. vpcd's own file in /etc/reader.conf.d/ gives
# "Virtual PCD 00 00" (port 35963) and "Virtual PCD 00 01" (port 35964); every
# entry here adds two more readers on the next two ports. Readers accept a card
# from any host that reaches the port: keep the ports firewalled on a shared host.
set -eu

conf=/etc/reader.conf.d/breakglass-vpcd
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
	echo "# Written by breakglass scripts/readers.sh: extra vpcd readers for virtual cards."
	n=2
	port=35965
	while [ "$n" -le 8 ]; do
		printf 'FRIENDLYNAME "Virtual PCD %d"\nDEVICENAME   /dev/null:%d\nLIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID    %d\n\n' "$n" "$port" "$port"
		n=$((n + 1))
		port=$((port + 2))
	done
} >"$tmp"

if ! cmp -s "$tmp" "$conf" 2>/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		echo "breakglass: $conf needs updating; run as root" >&2
		exit 1
	fi
	install -m 0644 "$tmp" "$conf"
	echo "breakglass: wrote $conf (16 virtual readers, ports 35963-35978)"
	# A running pcscd reads reader.conf.d only at start.
	if [ -f /run/breakglass-pcscd.pid ]; then
		"$(dirname "$0")/pcscd.sh" stop
	fi
fi
