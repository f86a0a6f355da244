#!/bin/sh
# pcscd.sh start|stop|restart|run CMD...
#
# start: starts pcscd in the foreground mode without --auto-exit (so vpcd's
#        ports stay open between test packages) unless one is already running.
# stop:  stops pcscd only if this script started it.
# run:   start pcscd unless one runs, run CMD, stop the pcscd it started;
#        exits with CMD's status.
set -eu

pidfile=/run/breakglass-pcscd.pid
log=${TMPDIR:-/tmp}/breakglass-pcscd.log

# running: a pcscd listens on the socket (in this network namespace; a pcscd
# in another namespace, or a stale socket file, does not count).
running() {
	ss -xl 2>/dev/null | grep -q '/run/pcscd/pcscd.comm'
}

start() {
	if running; then
		return 0
	fi
	rm -f /run/pcscd/pcscd.comm
	mkdir -p /run/pcscd
	pcscd --foreground >"$log" 2>&1 &
	echo $! >"$pidfile"
	i=0
	while ! running || ! ss -ltn 2>/dev/null | grep -q ':35978 '; do
		i=$((i + 1))
		if [ "$i" -gt 100 ]; then
			echo "breakglass: pcscd did not start; its log:" >&2
			cat "$log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

stop() {
	if [ -f "$pidfile" ]; then
		pid=$(cat "$pidfile")
		rm -f "$pidfile"
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do
			i=$((i + 1))
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
}

# restart: stops whichever pcscd runs (ours or not) and starts ours.
restart() {
	stop
	if pkill -x pcscd 2>/dev/null; then
		i=0
		while pgrep -x pcscd >/dev/null 2>&1 && [ "$i" -lt 50 ]; do
			i=$((i + 1))
			sleep 0.1
		done
	fi
	start
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) restart ;;
run)
	shift
	# Stop afterwards only a pcscd this invocation started.
	started=false
	if ! running; then
		start
		started=true
	fi
	status=0
	"$@" || status=$?
	if $started; then
		stop
	fi
	exit "$status"
	;;
*)
	echo "usage: $0 start|stop|run CMD..." >&2
	exit 2
	;;
esac
