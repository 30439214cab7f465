#!/bin/bash
# Submits a sweep as a Slurm job array of N shards plus the merge job that waits for them.
#   deploy/slurm/submit.sh N SCENARIO PARTS OUT [lab run flags...]
# Prints the merge job's id; OUT holds the merged run once it completes. Jobs run in the
# current directory (submit from the repository, so runs record its commit); their logs go
# to LAB_SLURM_LOGS (default: the current directory).
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 N SCENARIO PARTS OUT [lab run flags...]" >&2
    exit 2
fi
n=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
logs=${LAB_SLURM_LOGS:-.}
array=$(sbatch --parsable --array="1-$n" --output="$logs/lab-sweep-%A_%a.out" \
    "$here/array.sbatch" "$@")
array=${array%%;*}
sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    --job-name=lab-merge --output="$logs/lab-merge-%j.out" "$here/array.sbatch" "$1" "$2" "$3"
