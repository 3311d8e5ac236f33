#!/usr/bin/env bash
# Re-create every table in leaderboards/ and its records/: the runs of leaderboards/runs.txt,
# quick profile, on this machine (needs `genbench` on PATH).
#
#   bash leaderboards/reproduce.sh [WORKDIR] [FILTER]
#
# WORKDIR (default leaderboard-runs) keeps the store; a run already completed there is not
# repeated, so an interrupted reproduction picks up where it stopped. FILTER (an extended
# regular expression) keeps only the lines of runs.txt it matches, e.g. 'digits$|ring8'.
# Tables and records are rendered from everything completed in WORKDIR.
set -euo pipefail
work=${1:-leaderboard-runs}
filter=${2:-.}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work/done"
grep -v '^#' "$here/runs.txt" | awk 'NF' | while read -r model dataset seeds; do
  echo "$model $dataset" | grep -Eq -- "$filter" || continue
  for seed in $seeds; do
    mark="$work/done/$model-$dataset-s$seed"
    [ -e "$mark" ] && continue
    echo "genbench run $model --dataset $dataset --seed $seed"
    genbench run "$model" --dataset "$dataset" --seed "$seed" --workdir "$work" \
      --format json > "$mark.json"
    mv "$mark.json" "$mark"
  done
done
genbench leaderboard render --workdir "$work" --out "$here"
mkdir -p "$here/records"
rm -f "$here"/records/*.json
for dir in "$work"/runs/*/; do
  grep -q '"status": "completed"' "$dir/record.json" || continue
  cp "$dir/record.json" "$here/records/$(basename "$dir").json"
done
