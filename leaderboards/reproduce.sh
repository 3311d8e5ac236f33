#!/usr/bin/env bash
# Re-create every table in leaderboards/ from scratch: quick profile, on this machine.
#   bash leaderboards/reproduce.sh [WORKDIR]     (needs `genbench` on PATH; about 30 min on 2 CPU cores)
# Each line of RUNS is: model dataset seeds...
set -euo pipefail
work=${1:-leaderboard-runs}
here=$(cd "$(dirname "$0")" && pwd)
RUNS="
gan ring8 0 1 2
gan grid25 0 1 2
wgan ring8 0 1 2
wgan grid25 0 1 2
wgan-gp ring8 0 1 2
wgan-gp grid25 0 1 2
lsgan ring8 0 1 2
lsgan grid25 0 1 2
sngan ring8 0 1 2
sngan grid25 0 1 2
gan digits 0
dcgan digits 0
dcgan stacked-digits 0
"
while read -r model dataset seeds; do
  [ -n "$model" ] || continue
  for seed in $seeds; do
    echo "genbench run $model --dataset $dataset --seed $seed"
    genbench run "$model" --dataset "$dataset" --seed "$seed" --workdir "$work" \
      --format json > /dev/null
  done
done <<< "$RUNS"
genbench leaderboard render --workdir "$work" --out "$here"
mkdir -p "$here/records"
rm -f "$here"/records/*.json
for dir in "$work"/runs/*/; do
  cp "$dir/record.json" "$here/records/$(basename "$dir").json"
done
