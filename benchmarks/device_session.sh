#!/usr/bin/env bash
# The device check in one call on a lent GPU machine (no network there; ../shared/GPU.md).
#
# Here, once (the wheels the GPU machine lacks, into the git-ignored .whl/):
#     bash benchmarks/device_session.sh --fetch-wheels
# Then, on the device, from the project root, with .whl carried along:
#     bash benchmarks/device_session.sh [gpu_check.py options]
#
# It installs torch-fidelity and prdc from .whl/ and genbench itself (not editable: the device's
# torch is its own), records the GPU, and runs benchmarks/gpu_check.py with its logs under
# $OUT/gpu-check (what comes back even when the call runs out of time). BUDGET (seconds, default
# 450) bounds the check so that install and start-up fit a 600 s call. PYTHON picks the
# interpreter (default python3). Exit status: the check's (1 if a test or a model failed).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ "${1:-}" = "--fetch-wheels" ]; then
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || grep -qx '/.whl/' .gitignore ||
    echo /.whl/ >> .git/info/exclude
  exec "$PYTHON" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 --platform any \
    -d .whl torch-fidelity==0.4.0 prdc==0.2 wheel  # wheel: for setuptools < 70.1 there
fi

OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
started=$(date +%s)
if ! ls .whl/*.whl >/dev/null 2>&1; then
  echo "no wheels in .whl/: run 'bash benchmarks/device_session.sh --fetch-wheels' here first" \
       "and carry .whl" >&2
  exit 2
fi
if ! { "$PYTHON" -m pip install -q --no-index --no-deps .whl/*.whl &&
       "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation . ; } \
     > "$OUT/install.log" 2>&1; then
  echo "install failed; the end of $OUT/install.log:" >&2
  tail -20 "$OUT/install.log" >&2
  exit 2
fi
export PYTHONUNBUFFERED=1 GENBENCH_NO_COLOR=1
{ nvidia-smi || echo "no nvidia-smi"; } > "$OUT/nvidia-smi.txt" 2>&1
"$PYTHON" -c "import torch, torch_fidelity, genbench; print('torch', torch.__version__, \
'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() \
else '', '| torch-fidelity', torch_fidelity.__version__, '| genbench from', genbench.__file__)" \
  | tee "$OUT/versions.txt"
echo "installed in $(( $(date +%s) - started )) s"
# The models' workdir (checkpoints: hundreds of MB) stays out of $OUT, which is shipped back.
"$PYTHON" benchmarks/gpu_check.py --out "$OUT/gpu-check" --workdir "${TMPDIR:-/tmp}/genbench-check" \
  --budget "${BUDGET:-450}" "$@"
