#!/bin/sh
# demo.sh BIN — the main job end to end on virtual cards, run by `make demo`
# (which installs what is missing and starts pcscd). Everything it creates lives
# in a temporary case directory that is removed at the end; the virtual cards'
# test CA goes to a temporary config directory too.
#
#   1. three custodians enroll virtual YubiKeys; a fourth keeps a paper share
#   2. a demo secret is sealed 2 of 3 (the three cards) and a drill proves two
#      taps open it
#   3. two taps unseal it (its checksum is printed, never the secret)
#   4. AWS on the loopback rehearsal server: provision (2 of the three cards
#      and the paper share), a personal session, recorded for the auditors,
#      revoke, check, audit; an auditor checks the recording and replays it
#  1b. two witnesses, run by "other teams" on loopback, cosign the logbook's
#      checkpoints (C2SP tlog-witness); every later append is cosigned
#   5. the logbook: show, checkpoint, and verify with the witnesses' quorum
#   6. the quarterly drill: the drill calendar, a drill run of the AWS key
#      (every custodian taps, the key proves itself with a deny-all session
#      and its alert fires), drill status, and the witnessed logbook again
set -eu

bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d "${TMPDIR:-/tmp}/breakglass-demo.XXXXXX")
export XDG_CONFIG_HOME="$work/config"
# Demo PINs for the virtual cards. Real custodians type theirs on the terminal.
export BREAKGLASS_PIN=314159 BREAKGLASS_NEW_PIN=314159 BREAKGLASS_NEW_PUK=27182818
export BREAKGLASS_PIN_FACTORY=123456
pids=""

cleanup() {
	status=$?
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	if [ "$status" != 0 ]; then
		echo "demo failed (status $status); card logs:" >&2
		cat "$work"/*.card.log >&2 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	printf '$ breakglass'
	for a in "$@"; do
		case "$a" in
		*[[:space:]]*) printf " '%s'" "$a" ;;
		*) printf ' %s' "$a" ;;
		esac
	done
	printf '\n'
	"$bin" "$@"
}

# Readers from scripts/readers.sh.
reader() { echo "Yubico YubiKey Virtual PCD $1 00 0$2"; }

# start_card NAME PORT SERIAL: a virtual YubiKey on a vpcd reader.
start_card() {
	"$bin" card virtual --state "$work/$1.vcard" --port "$2" --serial "$3" --touch auto \
		2>"$work/$1.card.log" &
	pids="$pids $!"
}

mkdir -p "$work/case" "$work/paper-aws" "$work/paper-aws2"
chmod 700 "$work/paper-aws" "$work/paper-aws2"
cd "$work/case"

step "1. custodians plug in their (virtual) YubiKeys and enroll them"
start_card alice 35965 10000001
start_card bob 35966 10000002
start_card carol 35967 10000003
sleep 2
run card list
for who in alice:2:0 bob:2:1 carol:3:0; do
	name=${who%%:*} r=${who#*:}
	BREAKGLASS_PIN=123456 run card enroll --name "$name" --team sre --piv \
		--reader "$(reader "${r%:*}" "${r#*:}")"
done
# The logbook's genesis: alice, bob and carol found the case, each card signs.
# From here on the logbook, not the *.card.json files, decides who may sign.
run log init --origin breakglass.example/demo/prod-aws
run card enroll --name dave --team security --paper --location "safe 2, HQ" --as alice
run card verify --allow-virtual alice.card.json bob.card.json carol.card.json dave.card.json

step "1b. two witnesses run by other teams cosign the logbook"
# Each witness's operator makes a key, lets the witness cosign this case's
# logbook (its origin and the custodians' signing keys), and serves it.
for w in security audit; do
	run log witness keygen --name "witness.example/$w" --key "$work/$w.key" | tee "$work/$w.keygen"
	tail -n 1 "$work/$w.keygen" >"$work/$w.vkey"
	run log witness add-log --state "$work/$w.state" --case .
	"$bin" log witness serve --key "$work/$w.key" --state "$work/$w.state" --addr 127.0.0.1:0 \
		>"$work/$w.url" 2>"$work/$w.log" &
	pids="$pids $!"
done
for w in security audit; do
	i=0
	while [ ! -s "$work/$w.url" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
done
# The case names them, with a quorum of 2.
{
	echo "quorum 2"
	echo "timeout 5s"
	for w in security audit; do echo "witness $(cat "$work/$w.vkey") $(cat "$work/$w.url")"; done
} >logbook/witnesses
cat logbook/witnesses
run log cosign

step "2. seal a demo secret 2 of 3, then drill"
printf 'demo secret: the emergency key\n' >"$work/secret.txt"
run seal --name demo --threshold 2 --allow-virtual \
	--to alice.card.json,bob.card.json,carol.card.json \
	--use-case "SSO is down" --scope "demo" --as alice <"$work/secret.txt"
run drill verify demo.glass --operator alice --reader "$(reader 2 0)" --reader "$(reader 3 0)"

step "3. unseal with two taps (alice and bob); only the checksum is shown"
"$bin" unseal demo.glass --reason "demo" --ticket DEMO-1 --use-case "SSO is down" \
	--operator carol --reader "$(reader 2 0)" --reader "$(reader 2 1)" | sha256sum
printf 'expected checksum:\n'
sha256sum <"$work/secret.txt"

step "4. AWS on the loopback rehearsal server"
"$bin" aws rehearsal-server --admin-credentials "$work/admin.credentials" >"$work/endpoint" \
	2>"$work/aws.log" &
pids="$pids $!"
i=0
while [ ! -s "$work/endpoint" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
endpoint=$(cat "$work/endpoint")
export AWS_SHARED_CREDENTIALS_FILE="$work/admin.credentials" AWS_REGION=us-east-1
aws="--endpoint-url $endpoint"
# shellcheck disable=SC2086
run aws provision --name prod --account 123456789012 --to alice.card.json,bob.card.json,carol.card.json,dave.card.json \
	--threshold 2 --use-case "SSO is down" --allow-virtual --as alice --owner sre \
	--role-policy arn:aws:iam::aws:policy/ReadOnlyAccess --paper-out "$work/paper-aws" \
	--alert email:oncall@example.com $aws
# The rehearsal server keeps what SNS would have sent (/_awstest/deliveries):
# the on-call person follows the confirmation link of their alert e-mail.
deliveries() { curl -fsS "$endpoint/_awstest/deliveries"; }
confirm=$(deliveries | python3 -c 'import json, sys
print([d["subscribeUrl"] for d in json.load(sys.stdin)["deliveries"] if d["type"] == "SubscriptionConfirmation"][0])')
curl -fsS "$confirm" >/dev/null
echo "(oncall@example.com confirmed the alert subscription)"
# The auditors: --exec sessions are recorded, encrypted to them.
age-keygen -o "$work/auditor.key" 2>/dev/null
{
	echo "# the auditors: recorded --exec sessions are encrypted to them"
	age-keygen -y "$work/auditor.key"
} >auditors
# The operator's shell: what it runs is typed on its terminal, and recorded.
# shellcheck disable=SC2086
run aws session prod.glass --reason "demo incident" --ticket INC-1 --use-case "SSO is down" \
	--operator carol --reader "$(reader 2 0)" --reader "$(reader 2 1)" --reader "$(reader 3 0)" $aws \
	--exec <<EOF
"$bin" aws caller-identity $aws
exit
EOF
# Every use of the break-glass identity is loud: the alert of the session.
deliveries | python3 -c 'import json, sys
for d in json.load(sys.stdin)["deliveries"]:
    if d["type"] == "Notification" and d.get("rule"):
        print("alert to %s: %s" % (d["endpoint"], d.get("subject") or d["message"][:160]))'
step "4b. an auditor checks the recording against the logbook and replays it"
run log verify --recordings recordings
run replay recordings/*.cast.age -i "$work/auditor.key" --max-wait 0
# shellcheck disable=SC2086
run aws revoke prod.glass --as bob --paper-out "$work/paper-aws2" $aws
# shellcheck disable=SC2086
run aws check prod.glass $aws
# shellcheck disable=SC2086
run aws audit $aws

step "5. the logbook, witnessed"
run log show
run log checkpoint
run log verify --witnessed

step "6. the quarterly drill: the calendar, then every custodian of prod taps and the key proves itself to AWS"
run drill schedule --every 3mo --from 2027-01-15 --out "$work/drills.ics"
# prod (the AWS key) was just re-sealed by the revoke: its drill run has
# all three cards and dave's new paper share prove themselves, and the key
# a deny-all STS session (nothing is released, nothing to revoke).
# shellcheck disable=SC2086
run drill run prod.glass --aws --operator alice --ticket DRILL-DEMO \
	--reader "$(reader 2 0)" --reader "$(reader 2 1)" --reader "$(reader 3 0)" \
	--mnemonic-file "$work/paper-aws2/prod-dave.paper.txt" $aws
run drill status
# The drill's entries are witnessed like the rest: the quorum covers them.
run log verify --witnessed
