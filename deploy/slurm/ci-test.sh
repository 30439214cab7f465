#!/bin/bash
# The real-engine test of sharded sweeps: starts a throwaway one-node Slurm cluster (munged,
# slurmctld, slurmd from Debian's slurm-wlm and munge, all state under a temporary directory,
# ports 16817/16818), submits a quick sweep with the shipped deploy/slurm/submit.sh as a
# 3-task job array plus the dependent merge job, waits, and checks the merged run against an
# unsharded one (results, units and summary.json apart from its timing fields). The daemons
# are stopped by their pid files whatever happens.
#
#   LAB=target/release/lab deploy/slurm/ci-test.sh [SCENARIO]
#
# Exit status: 0 passed; 1 failed; 77 skipped (Slurm or munge missing or unable to start here;
# the reason is printed on stderr).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lab=$(realpath "${LAB:-$repo/target/release/lab}")
scenario=$(realpath "${1:-$repo/scenarios/queueing.toml}")
skip() { echo "slurm test skipped: $*" >&2; exit 77; }
fail() { echo "slurm test FAILED: $*" >&2; exit 1; }

[ -x "$lab" ] || fail "no lab binary at $lab (set LAB)"
for b in slurmctld slurmd sbatch squeue sinfo munged munge; do
    command -v "$b" >/dev/null || PATH=$PATH:/usr/sbin command -v "$b" >/dev/null \
        || skip "$b is not installed (apt-get install slurm-wlm munge)"
done
export PATH=$PATH:/usr/sbin
[ "$(id -u)" = 0 ] || skip "the one-node cluster needs root (munged and slurmd run as root here)"

tmp=$(mktemp -d /tmp/claimlab-slurm-XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    for f in "$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munged.pid"; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 1
    for f in "$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munged.pid"; do
        [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    if [ "${KEEP:-}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# munge: our own key, socket and pid file (a system munged, if any, is left alone).
mkdir -p "$tmp/munge"
head -c 1024 /dev/urandom > "$tmp/munge/munge.key"
chmod 700 "$tmp/munge"; chmod 400 "$tmp/munge/munge.key"
sock="$tmp/munge/munge.sock"
munged --force --key-file="$tmp/munge/munge.key" --socket="$sock" \
    --pid-file="$tmp/munged.pid" --log-file="$tmp/munged.log" \
    --seed-file="$tmp/munge/seed" 2>"$tmp/munged.err" \
    || skip "munged does not start: $(cat "$tmp/munged.err" "$tmp/munged.log" 2>/dev/null | tail -3)"
munge -S "$sock" -n | unmunge -S "$sock" >/dev/null 2>&1 || skip "munge -n | unmunge fails"

host=$(hostname -s)
mkdir -p "$tmp/state" "$tmp/spool"
cat > "$tmp/slurm.conf" <<CONF
ClusterName=claimlab-ci
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SchedulerType=sched/backfill
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -f "$SLURM_CONF" 2>"$tmp/slurmctld.err" \
    || skip "slurmctld does not start: $(tail -3 "$tmp/slurmctld.err" "$tmp/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" 2>"$tmp/slurmd.err" \
    || skip "slurmd does not start: $(tail -3 "$tmp/slurmd.err" "$tmp/slurmd.log" 2>/dev/null)"
for _ in $(seq 60); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1)
    [ "$state" = idle ] && break
    sleep 0.5
done
[ "$state" = idle ] || skip "the node never became idle (sinfo: '${state:-no answer}'); slurmd log: $(tail -3 "$tmp/slurmd.log" 2>/dev/null)"
echo "slurm: one-node cluster up on $host ($(sinfo -V))" >&2

# The sweep, sharded by the engine, and the same sweep in one process.
flags=(--quick --real off)
# Both from the repository, so both record its commit.
cd "$repo"
"$lab" run "$scenario" "${flags[@]}" --out "$tmp/whole" >/dev/null || fail "the unsharded run failed"
merge_job=$(LAB="$lab" LAB_SLURM_LOGS="$tmp" "$here/submit.sh" 3 "$scenario" "$tmp/parts" "$tmp/merged" "${flags[@]}") \
    || fail "submitting failed"
echo "slurm: submitted; merge job $merge_job" >&2
for _ in $(seq 180); do
    [ -z "$(squeue -h 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h)" ] || fail "jobs still queued after 90 s: $(squeue)"
id=$(basename "$scenario" .toml)
# The scenario's directory (a run directory also holds its index pages).
whole=$(ls -d "$tmp/whole/$id" 2>/dev/null || ls -d "$tmp"/whole/*/ | head -1)
merged=$(ls -d "$tmp/merged/$id" 2>/dev/null || ls -d "$tmp"/merged/*/ 2>/dev/null | head -1)
[ -f "$merged/summary.json" ] || fail "no merged summary; job output: $(cat "$tmp"/lab-*.out 2>/dev/null | tail -20)"
shards=$(ls -d "$tmp"/parts/shard-* | wc -l)
[ "$shards" = 3 ] || fail "expected 3 shard directories, found $shards"
for f in results.csv units.jsonl results.parquet; do
    cmp -s "$whole/$f" "$merged/$f" || fail "$f differs between the unsharded and merged runs"
done
strip() { grep -v -e '"started_at"' -e '"wall_s"' "$1"; }
diff <(strip "$whole/summary.json") <(strip "$merged/summary.json") >&2 \
    || fail "summary.json differs beyond its timing fields"
echo "slurm: 3 array tasks + dependent merge equal the unsharded run ($id)" >&2
