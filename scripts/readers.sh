#!/bin/sh
# Configures extra vsmartcard vpcd readers for pcscd, so that tests can run
# several virtual cards at once. vpcd's own file in /etc/reader.conf.d/ gives
# "Virtual PCD 00 00" (port 35963) and "Virtual PCD 00 01" (port 35964); every
# entry here adds two more readers on the next two ports, named
# "Yubico YubiKey Virtual PCD N 00 00" and "… 00 01" (libykcs11 lists only
# readers whose name starts with "Yubico").
#
# Debian's vpcd driver (0.8) keeps one connection per slot number for all the
# entries that load the same library file, so every entry gets its own copy of
# the driver. Readers accept a card from any host that reaches the port: keep
# the ports firewalled on a shared host.
set -eu

conf=/etc/reader.conf.d/breakglass-vpcd
driver=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
libdir=/usr/local/lib/breakglass/vpcd

if [ "$(id -u)" != 0 ]; then
	as_root=false
else
	as_root=true
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
	echo "# Written by breakglass scripts/readers.sh: extra vpcd readers for virtual cards."
	n=2
	port=35965
	while [ "$n" -le 8 ]; do
		printf 'FRIENDLYNAME "Yubico YubiKey Virtual PCD %d"\nDEVICENAME   /dev/null:%d\nLIBPATH      %s/libifdvpcd-%d.so\nCHANNELID    %d\n\n' \
			"$n" "$port" "$libdir" "$n" "$port"
		n=$((n + 1))
		port=$((port + 2))
	done
} >"$tmp"

changed=false
n=2
while [ "$n" -le 8 ]; do
	if ! cmp -s "$driver" "$libdir/libifdvpcd-$n.so" 2>/dev/null; then
		$as_root || { echo "breakglass: $libdir needs updating; run as root" >&2; exit 1; }
		mkdir -p "$libdir"
		cp "$driver" "$libdir/libifdvpcd-$n.so"
		changed=true
	fi
	n=$((n + 1))
done
if ! cmp -s "$tmp" "$conf" 2>/dev/null; then
	$as_root || { echo "breakglass: $conf needs updating; run as root" >&2; exit 1; }
	install -m 0644 "$tmp" "$conf"
	echo "breakglass: wrote $conf (16 virtual readers, ports 35963-35978)"
	changed=true
fi
# A running pcscd reads reader.conf.d only at start.
if $changed && pgrep -x pcscd >/dev/null 2>&1; then
	echo "breakglass: restarting pcscd to load the new readers"
	"$(dirname "$0")/pcscd.sh" restart
fi
