#!/usr/bin/env bash
# The sample ensemble and its database, as `make sample` and Binder's postBuild make them:
# DATA/ensemble (SIMS synthetic simulations) and DATA/sample.sqlite with three methods
# (L2, L1 and the maximum norm against sim00000, matched time steps). The database is written
# under a temporary name and moved into place, so an interrupted build leaves none.
set -euo pipefail
DATA=${1:?usage: build_sample.sh DATA_DIR [SIMS]}
SIMS=${2:-1000}
rm -rf "$DATA/ensemble" "$DATA/sample.sqlite" "$DATA/sample.sqlite.tmp"
mkdir -p "$DATA"
jupyter dsi sample "$DATA/ensemble" --sims "$SIMS" --seed 0 --quiet
jupyter dsi ingest "$DATA/ensemble" --db "$DATA/sample.sqlite.tmp" --quiet
for norm in L2 L1 Linf; do
  case $norm in
    L2) what="L2 norm" ;;
    L1) what="L1 norm" ;;
    Linf) what="maximum norm" ;;
  esac
  jupyter dsi postprocess --db "$DATA/sample.sqlite.tmp" --ground-truth sim00000 --norm "$norm" --quiet \
    --description "Sample ground truth, $what, matched time steps" >/dev/null
done
mv "$DATA/sample.sqlite.tmp" "$DATA/sample.sqlite"
