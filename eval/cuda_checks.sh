#!/usr/bin/env bash
# The GPU checks of mspt-pyiqa, in one short run on a machine with a CUDA device and a Python
# that already holds torch, torchvision, timm, pandas, scikit-image and OpenCV:
#   1. the CUDA tests (tests/test_cuda.py: scoring, gradients, score CLI, three-stage recipe at
#      224/336/448 px with and without autocast), verbose, with their printed differences;
#   2. the fast test suite (-m "not slow") on that machine (CUDA visible), to catch CPU-only assumptions.
# Usage: bash eval/cuda_checks.sh OUT_DIR [WHEEL_DIR]
#   WHEEL_DIR: wheels to install first without an index (e.g. pyiqa==0.1.16 where pip cannot reach PyPI).
# Writes OUT_DIR/cuda_tests.txt, OUT_DIR/suite.txt and OUT_DIR/env.txt.
set -uo pipefail
out=${1:?usage: cuda_checks.sh OUT_DIR [WHEEL_DIR]}
wheels=${2:-}
mkdir -p "$out"
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

if [ -n "$wheels" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$wheels"/*.whl || exit 2
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# The package itself, editable and without dependencies (entry points and package data as installed).
$PY -m pip install -q --no-index --no-deps --no-build-isolation -e . > "$out/install.txt" 2>&1 \
  || export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  $PY - <<'EOF'
import sys, torch, timm, pyiqa
print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "| cudnn", torch.backends.cudnn.version(), "| timm", timm.__version__, "| pyiqa", pyiqa.__version__)
print("device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
EOF
} > "$out/env.txt" 2>&1
cat "$out/env.txt"

timeout 240 $PY -m pytest -v -s -m cuda tests/test_cuda.py -p no:cacheprovider > "$out/cuda_tests.txt" 2>&1
rc_cuda=$?
tail -15 "$out/cuda_tests.txt"
timeout 200 $PY -m pytest -q -m "not cuda and not slow" -p no:cacheprovider > "$out/suite.txt" 2>&1
rc_suite=$?
tail -25 "$out/suite.txt"
echo "cuda tests rc=$rc_cuda, suite rc=$rc_suite"
exit $rc_cuda
