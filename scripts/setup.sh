#!/usr/bin/env bash
# Creates .venv with Python 3.10 and the pinned requirements. Idempotent: the
# Makefile calls it only when requirements.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in python3.10 "$HOME/.pyenv/versions/3.10"*/bin/python /root/.pyenv/versions/3.10*/bin/python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

if ! command -v uv >/dev/null 2>&1; then
  echo "installing uv with pip" >&2
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi

if ! PYTHON=$(find_python); then
  echo "Python 3.10 not found: installing it with uv" >&2
  uv python install 3.10
  PYTHON=$(uv python find 3.10)
fi
echo "using $PYTHON" >&2

# --seed puts pip in the venv: TFX installs module wheels with it.
[ -x .venv/bin/python ] || uv venv --seed --python "$PYTHON" .venv
uv pip install --python .venv/bin/python -r requirements.txt
