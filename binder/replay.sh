#!/usr/bin/env bash
# What repo2docker does with binder/ for this repository, minus the container: a fresh virtual
# environment, `pip install -r binder/requirements.txt`, then binder/postBuild from the
# repository root. CI runs it, then opens examples/explore.ipynb in it with Galata.
set -euo pipefail
env_dir=${1:-.binder-env}
cd "$(dirname "$0")/.."
rm -rf "$env_dir"
python3 -m venv "$env_dir"
"$env_dir/bin/python" -m pip install --quiet --upgrade pip
"$env_dir/bin/python" -m pip install --quiet -r binder/requirements.txt
PATH="$PWD/$env_dir/bin:$PATH" VIRTUAL_ENV="$PWD/$env_dir" bash binder/postBuild
echo "binder: replayed into $env_dir"
