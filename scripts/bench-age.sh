#!/bin/sh
# bench-age.sh BIN — seal then unseal a large payload with software-only shares
# (a paper custodian), against the age CLI encrypting and decrypting the same
# file on the same machine in the same run. Prints the time ratios (age time /
# breakglass time: 1.00 means as fast as age, the goal is ≥ 0.95) and the peak
# RSS of each breakglass step (goal < 64 MiB).
#
# To keep page-cache and disk noise out of a CPU-bound comparison, the work
# happens in tmpfs (/dev/shm) when it has room for it, else in $TMPDIR or
# /var/tmp; BENCH_DIR chooses another parent directory. Every step runs
# BENCH_RUNS times (5), breakglass and age interleaved, in alternating order,
# so that load from other work on the machine and the cost of a position in
# the sequence fall on both alike; the ratios compare medians.
#
# breakglass fsyncs what it writes (a sealed secret must survive a crash, an
# unsealed one appears only once complete); age does not. The ratios
# therefore compare with age followed by `sync FILE` (free on tmpfs); the
# ratios against plain age are printed too, and the ratios of CPU time
# (user + system), which other load on the machine disturbs less.
#
# BENCH_MIB sets the payload size (1024).
set -eu

bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mib=${BENCH_MIB:-1024}
runs=${BENCH_RUNS:-5}

# The parent directory: BENCH_DIR, else tmpfs with room for the payload and
# four files of its size (sealed, unsealed, age's two, the ballast), else disk.
parent=${BENCH_DIR:-}
if [ -z "$parent" ]; then
	parent=${TMPDIR:-/var/tmp}
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		free=$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')
		if [ "$free" -gt "$((mib * 1024 * 6 + 65536))" ]; then
			parent=/dev/shm
		fi
	fi
fi
work=$(mktemp -d "$parent/breakglass-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
fs=$(stat -f -c %T .)

now() { date +%s.%N; }
# settle: every step writes a payload-sized file, and on tmpfs writing into
# memory that was just freed is markedly cheaper than taking fresh pages, so
# the order of steps alone moved the ratios by 30 %. Before each timed step,
# write and free a payload-sized ballast file, so that every step starts
# from the same state.
settle() {
	head -c "$((mib * 1024 * 1024))" /dev/zero >ballast
	rm ballast
}
# timed LABEL CMD...: runs CMD, appends its seconds to LABEL.t, its CPU
# seconds (user + system) to LABEL.cpu and its peak RSS (KiB) to LABEL.rss
timed() {
	label=$1
	shift
	settle
	t0=$(now)
	/usr/bin/time -f '%M %U %S' -o time.tmp "$@"
	t1=$(now)
	echo "$t1 - $t0" | bc -l >>"$label.t"
	awk '{ print $1 }' time.tmp >>"$label.rss"
	awk '{ print $2 + $3 }' time.tmp >>"$label.cpu"
}
# median LABEL [EXT]: the median of LABEL.EXT (LABEL.t)
median() { sort -n "$1.${2:-t}" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# peak LABEL: the largest RSS of LABEL's runs, in MiB
peak() { sort -n "$1.rss" | tail -n 1 | awk '{ printf "%d", $1 / 1024 }'; }
# spread LABEL: "min–max" of LABEL.t
spread() { sort -n "$1.t" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f–%.2f", lo, hi }'; }

echo "payload: $mib MiB of random bytes; $runs runs per step, interleaved; in $work ($fs)"
head -c "$((mib * 1024 * 1024))" /dev/urandom >payload
mkdir -m 700 paper

"$bin" card enroll --name bench --paper --location "benchmark" --out bench.card.json 2>/dev/null
age-keygen -o key.txt 2>/dev/null
recipient=$(age-keygen -y key.txt)

# The steps. Each removes what it writes before it runs.
step_seal() {
	rm -rf bench.glass paper/*
	timed seal "$bin" seal --name bench --threshold 1 --to bench.card.json --binary \
		--in payload --paper-out paper --out bench.glass 2>/dev/null
}
step_ageenc() {
	rm -f payload.age
	timed ageenc age -r "$recipient" -o payload.age payload
}
step_ageencsync() {
	rm -f payload.age
	timed ageencsync sh -c 'age -r "$1" -o payload.age payload && sync payload.age' - "$recipient"
}
step_unseal() {
	rm -f unsealed
	timed unseal "$bin" unseal bench.glass --reason benchmark --ticket BENCH \
		--mnemonic-file paper/bench-bench.paper.txt --out unsealed 2>/dev/null
	cmp payload unsealed
	rm unsealed
}
step_agedec() {
	rm -f decrypted
	timed agedec age -d -i key.txt -o decrypted payload.age
	cmp payload decrypted
	rm decrypted
}
step_agedecsync() {
	rm -f decrypted
	timed agedecsync sh -c 'age -d -i key.txt -o decrypted payload.age && sync decrypted'
	cmp payload decrypted
	rm decrypted
}

# Odd runs go breakglass first, even runs age first, so that whatever a
# position in the sequence costs or saves falls on both alike.
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	if [ $((i % 2)) = 1 ]; then
		step_seal
		step_ageenc
		step_ageencsync
		step_unseal
		step_agedec
		step_agedecsync
	else
		step_ageencsync
		step_ageenc
		step_seal
		step_agedecsync
		step_agedec
		step_unseal
	fi
done

# ratio A B [EXT]: median of A / median of B
ratio() { awk -v a="$(median "$1" "${3:-t}")" -v b="$(median "$2" "${3:-t}")" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-12s %8s %12s %8s %10s\n' step median range CPU "peak RSS"
for s in seal unseal ageenc agedec ageencsync agedecsync; do
	printf '%-12s %8.2f %12s %8.2f %6d MiB\n' "$s" "$(median $s)" "$(spread $s)" "$(median $s cpu)" "$(peak $s)"
done
# sum A B: median of A + median of B
sum() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN { print a + b }'; }
echo "ratio seal then unseal (age encrypt + decrypt, + fsync / breakglass seal + unseal): $(awk -v a="$(sum ageencsync agedecsync)" -v b="$(sum seal unseal)" 'BEGIN { printf "%.2f", a / b }')"
echo "ratio seal   (age encrypt + fsync / breakglass seal):   $(ratio ageencsync seal)"
echo "ratio unseal (age decrypt + fsync / breakglass unseal): $(ratio agedecsync unseal)"
echo "without age's fsync: seal $(ratio ageenc seal), unseal $(ratio agedec unseal)"
echo "CPU time (user + system, less sensitive to other load): seal $(ratio ageencsync seal cpu), unseal $(ratio agedecsync unseal cpu)"
