# Shared by scripts/test and scripts/quickstart: make .venv and install the project into it.
# Re-installs only when pyproject.toml or constraints.txt changed (a stamp file records their hash).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRAS=${1:-dev}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.ganaug-install-$EXTRAS
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[$EXTRAS]"
  echo "$want" > "$stamp"
fi
