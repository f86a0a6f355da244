#!/bin/sh
# bench-age.sh BIN — seal then unseal a large payload with software-only shares
# (a paper custodian), against the age CLI encrypting and decrypting the same
# file on the same machine in the same run. Prints the time ratios (age time /
# breakglass time: 1.00 means as fast as age, the goal is ≥ 0.95) and the peak
# RSS of each breakglass step (goal < 64 MiB). BENCH_MIB sets the size (1024).
set -eu

bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mib=${BENCH_MIB:-1024}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/breakglass-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

now() { date +%s.%N; }
# timed LABEL CMD...: runs CMD, records seconds and peak RSS (KiB) in LABEL.t/.rss
timed() {
	label=$1
	shift
	t0=$(now)
	/usr/bin/time -f %M -o "$label.rss" "$@"
	t1=$(now)
	echo "$t1 - $t0" | bc -l >"$label.t"
}

echo "payload: $mib MiB of random bytes"
head -c "$((mib * 1024 * 1024))" /dev/urandom >payload
mkdir -m 700 paper

"$bin" card enroll --name bench --paper --location "benchmark" --out bench.card.json 2>/dev/null
timed seal "$bin" seal --name bench --threshold 1 --to bench.card.json --binary \
	--in payload --paper-out paper --out bench.glass 2>/dev/null
timed unseal "$bin" unseal bench.glass --reason benchmark --ticket BENCH \
	--mnemonic-file paper/bench-bench.paper.txt --out unsealed 2>/dev/null
cmp payload unsealed
rm unsealed

age-keygen -o key.txt 2>/dev/null
timed ageenc age -r "$(age-keygen -y key.txt)" -o payload.age payload
timed agedec age -d -i key.txt -o decrypted payload.age
cmp payload decrypted
rm payload.age decrypted
# breakglass fsyncs what it writes (a sealed secret must survive a crash); age
# does not. The fair comparison adds an fsync of age's output file.
timed ageencsync sh -c 'age -r "$1" -o payload.age payload && sync payload.age' - "$(age-keygen -y key.txt)"
timed agedecsync sh -c 'age -d -i key.txt -o decrypted payload.age && sync decrypted'

ratio() { echo "scale=2; $(cat "$1.t") / $(cat "$2.t")" | bc -l; }
printf '%-22s %8s %10s\n' step seconds "peak RSS"
for s in seal unseal ageenc agedec ageencsync agedecsync; do
	printf '%-22s %8.2f %7d MiB\n' "$s" "$(cat $s.t)" "$(($(cat $s.rss) / 1024))"
done
echo "ratio seal   (age encrypt + fsync / breakglass seal):   $(ratio ageencsync seal)"
echo "ratio unseal (age decrypt + fsync / breakglass unseal): $(ratio agedecsync unseal)"
echo "without age's fsync: seal $(ratio ageenc seal), unseal $(ratio agedec unseal)"
