#!/usr/bin/env bash
# The sample ensemble and its database, as `make sample` and Binder's postBuild make them:
# DATA/ensemble (SIMS synthetic simulations) and DATA/sample.sqlite with three methods
# (L2, L1 and the maximum norm against sim00000, matched time steps).
#
#   build_sample.sh DATA_DIR [SIMS]            build only when DATA/sample.sqlite is missing
#   build_sample.sh --rebuild DATA_DIR [SIMS]  build again; refused while the database holds a
#                                              user's datasets or methods, unless FORCE=1
#   build_sample.sh --remove DATA_DIR          remove DATA_DIR (make clean); kept while the
#                                              database holds them, unless FORCE=1
#
# A user saves datasets into this database, so an existing one is never deleted by a plain run:
# when the generator changed since it was built, the run says so and keeps it. The database is
# written under a temporary name and moved into place, so an interrupted build leaves none, and
# a plain run never moves it over a file that appeared meanwhile.
set -euo pipefail
REBUILD=0
REMOVE=0
case "${1:-}" in
  --rebuild) REBUILD=1; shift ;;
  --remove) REMOVE=1; shift ;;
esac
DATA=${1:?usage: build_sample.sh [--rebuild | --remove] DATA_DIR [SIMS]}
SIMS=${2:-1000}
DB="$DATA/sample.sqlite"
TMP="$DB.tmp"
RECIPE="$DATA/.sample-recipe"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# What the database is made from: the generator, this script and the size. Stored beside the
# database, so a plain run can tell that a kept database is stale.
recipe=$(cat "$HERE/../jupyterlab_dsi/sample.py" "$HERE/build_sample.sh" | sha256sum | cut -c1-16)
recipe="$recipe sims=$SIMS"
rebuild_hint="make sample-rebuild SAMPLE_SIMS=$SIMS (runs: bash examples/build_sample.sh --rebuild $DATA $SIMS)"

# The sample's own methods are the three built below; anything beyond is a user's work.
BUILT_METHODS=3

user_records() {
  # "N datasets, M methods ..." that a rebuild would delete, or nothing when there are none.
  # A database that cannot be read fails here, so it is never taken for an empty one (explicit
  # returns: set -e does not apply inside a function called from `x || y`).
  local listing datasets methods
  # Counted from the parsed JSON, never from its layout.
  local count='import json, sys; print(len(json.load(sys.stdin)))'
  listing=$(jupyter dsi datasets --db "$DB" --all --format json) || return 1
  datasets=$(python -c "$count" <<<"$listing") || return 1
  listing=$(jupyter dsi methods --db "$DB" --format json) || return 1
  methods=$(python -c "$count" <<<"$listing") || return 1
  methods=$((methods > BUILT_METHODS ? methods - BUILT_METHODS : 0))
  local what=()
  [ "$datasets" -gt 0 ] && what+=("$datasets dataset$([ "$datasets" -ne 1 ] && echo s)")
  [ "$methods" -gt 0 ] && what+=("$methods method$([ "$methods" -ne 1 ] && echo s) added after the build")
  [ ${#what[@]} -gt 0 ] && printf '%s' "${what[0]}" && [ ${#what[@]} -gt 1 ] && printf ' and %s' "${what[1]}"
  return 0
}

if [ "$REMOVE" = 1 ]; then
  if [ -e "$DB" ] && [ "${FORCE:-0}" != 1 ]; then
    held=$(user_records) || {
      echo "kept $DATA: could not read $DB to check it for saved datasets (FORCE=1 removes it)"
      exit 0
    }
    if [ -n "$held" ]; then
      echo "kept $DATA: $DB holds $held (FORCE=1 removes it)"
      exit 0
    fi
  fi
  rm -rf "$DATA"
  exit 0
fi

if [ -e "$DB" ]; then
  if [ "$REBUILD" = 0 ]; then
    if [ "$(cat "$RECIPE" 2>/dev/null || true)" != "$recipe" ]; then
      echo "note: $DB was built by another version of the sample generator (or another SIMS);" \
           "kept, because it may hold datasets you saved. To rebuild it: $rebuild_hint"
    else
      echo "$DB is up to date; kept"
    fi
    exit 0
  fi
  held=$(user_records) || {
    echo "build_sample.sh: error: could not read $DB to check it for saved datasets; left as it is (move it away to rebuild)" >&2
    exit 2
  }
  if [ -n "$held" ] && [ "${FORCE:-0}" != 1 ]; then
    echo "build_sample.sh: error: $DB holds $held; a rebuild would delete what you saved." \
         "Export what you need (jupyter dsi export ID --db $DB -o FILE), then rerun with FORCE=1" >&2
    exit 2
  fi
fi

mkdir -p "$DATA"
rm -rf "$DATA/ensemble" "$TMP"
# The database stores absolute paths of the ensemble's files, so the ensemble is written in place.
jupyter dsi sample "$DATA/ensemble" --sims "$SIMS" --seed 0 --quiet
jupyter dsi ingest "$DATA/ensemble" --db "$TMP" --quiet
for norm in L2 L1 Linf; do
  case $norm in
    L2) what="L2 norm" ;;
    L1) what="L1 norm" ;;
    Linf) what="maximum norm" ;;
  esac
  jupyter dsi postprocess --db "$TMP" --ground-truth sim00000 --norm "$norm" --quiet \
    --description "Sample ground truth, $what, matched time steps" >/dev/null
done
if [ "$REBUILD" = 1 ]; then
  mv -f "$TMP" "$DB"
else
  # No clobber: a database created by someone else while this one was built is theirs.
  mv -n "$TMP" "$DB" || true  # newer coreutils fail when they keep the target
  if [ -e "$TMP" ]; then
    rm -f "$TMP"
    echo "$DB appeared while the sample was built; kept it"
    exit 0
  fi
fi
echo "$recipe" > "$RECIPE"
echo "built $DB ($SIMS simulations, three methods)"
