#!/usr/bin/env bash
# One prepared run of a joint recipe (default research/probes/mspt_face_v12_joint.yml): data,
# training, measurements. Runs on 2 CPU cores (about 6.5 hours in all, measured: data 25-40 min, teacher
# 74 min, feature init 54, stages 1-2 11, stage 3 about 3.2 h, measurements about 30 min) or a GPU machine
# (NUM_GPU=1); every step skips what is already there, so rerunning it resumes after any interruption.
#   bash research/probes/joint_v12_run.sh                     # CPU, data under /tmp/mspt_data
#   RECIPE=research/probes/mspt_face_v12_joint67.yml bash research/probes/joint_v12_run.sh
#   FROM_RUN=runs/mspt_face_v12_joint RECIPE=... bash ...     # reuse that run's first four stages
#   CARRY=research/carry/<recipe name> RECIPE=... bash ... # continue a run packed by carry_run.py
#     (keep DATA as when the run started, /tmp/mspt_data for the packs here: stage options and the
#     teacher's cached scores hold absolute data paths, and a resume with others is refused)
#   DATA=/scratch NUM_GPU=1 OUT=$OUT bash research/probes/joint_v12_run.sh   # GPU machine
# Needs ../shared/data/faces. Results: runs/<recipe name> (run folder), runs/<recipe name>.pth,
# reports under research/reports/*<recipe name minus mspt_face_v12_>* and, with OUT set, copies of
# the reports and the final checkpoint in $OUT. The card's pools and the yardstick's images are
# built under runs/ where missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-/tmp/mspt_data}
WORKERS=${WORKERS:-$(nproc)}
NUM_GPU=${NUM_GPU:-0}
FACES=${FACES:-../shared/data/faces}
RECIPE=${RECIPE:-research/probes/mspt_face_v12_joint.yml}
NAME=$(basename "$RECIPE" .yml)
TAG=${NAME#mspt_face_v12_}
RUN=runs/$NAME
mkdir -p "$DATA" runs
log() { echo "[$(date +%H:%M:%S)] $*"; }

if [ -n "${CARRY:-}" ] && [ ! -f "$RUN/run.json" ]; then
  log "unpacking $CARRY"
  python research/probes/carry_run.py unpack "$CARRY"
fi

# data: the v11 corpus, the corpus's ladders at 224 px, the native ladders at 160 / 192 px and at 320 px with the detail view
if [ ! -f "$DATA/c11/stage3.csv" ]; then
  log "corpus"
  mspt-face corpus build --faces "$FACES" --out "$DATA/c11" --samples-per-source 3 --workers "$WORKERS" --no-progress
fi
if [ ! -f "$DATA/c224_at224/224/stage3_224_levels_train.csv" ]; then
  log "corpus ladders at 224 px"
  mspt-face corpus build --faces "$FACES" --out "$DATA/c224" --stages stage3_224 --levels --levels-split train --limit 80 --workers "$WORKERS" --no-progress
  mspt-face corpus metric-views --meta "$DATA/c224/stage3_224_levels_train.csv" --out "$DATA/c224_at224" --size 224 --ladders --workers "$WORKERS"
fi
# (only stages 1-2 read the 160 / 192 px ladders: not rebuilt for a run past them)
if [ ! -f "$DATA/nl_small/192/ladders.csv" ] && ! ls "$RUN"/4_*/result.json > /dev/null 2>&1; then
  log "native ladders 160 / 192"
  mspt-face corpus native-ladders --faces "$FACES" --out "$DATA/nl_small" --size 160 --size 192 --photos 240 --realworld-photos 60 --workers "$WORKERS"
fi
if [ ! -f "$DATA/nl16/320/ladders.csv" ]; then
  log "native ladders 320 + detail 320"
  mspt-face corpus native-ladders --faces "$FACES" --out "$DATA/nl16" --size 320 --detail-size 320 --photos 240 --realworld-photos 60 --workers "$WORKERS"
fi
for pair in "c11:mspt_face_v11_corpus" "c224_at224:corpus224_at224" "nl_small:native_ladders_small" "nl16:native_ladders16"; do
  src=${pair%%:*}; dst=runs/${pair#*:}
  [ -e "$dst" ] || [ -L "$dst" ] || ln -s "$DATA/$src" "$dst"  # -L: a link to data not built (nl_small past stage 2) is fine
done

if [ -n "${FROM_RUN:-}" ] && [ ! -d "$RUN" ]; then
  log "first four stages and the teacher's scores from $FROM_RUN"
  mkdir -p "$RUN"
  for d in "$FROM_RUN"/[1-4]_* "$FROM_RUN"/teacher_cache; do cp -r "$d" "$RUN"/; done
fi

log "training $RECIPE"
mspt-face train "$RECIPE" --out "$RUN" --set num_gpu="$NUM_GPU"
FINAL=$(ls "$RUN"/5_*/models/net_best.pth)
cp "$FINAL" "$RUN.pth"

log "measurements"
R=research/reports
W=$RUN.pth
[ -f $R/view_size_grid_${TAG}_noenlarge_realworld.md ] || python research/probes/view_size_grid.py \
  --weights "$W" --arm realworld --resized 320 --detail 320 --no-enlarge \
  --out $R/view_size_grid_${TAG}_noenlarge_realworld
[ -f $R/native_scale_v12_${TAG}.md ] || python eval/native_scale.py --photos 100 --realworld-photos 100 \
  --weights "$W" --sizes 320+320 --cache runs/native_scale --out $R/native_scale_v12_${TAG} --threads 1
[ -f $R/release_compare_${TAG}_at224.md ] || python -m research.eval.release_compare \
  --config research/release/configs/mspt_face_v11.yml --cache runs/v12_regression/heldout_pools \
  --model mspt_face_v11 --model "$TAG=$W@224" --levels levels --levels levels_clean --out $R/release_compare_${TAG}_at224
[ -f $R/level_visibility_clean_all_${TAG}.md ] || python -m research.eval.level_visibility \
  --config research/release/configs/mspt_face_v11.yml --cache runs/bars_clean_all/pools --levels levels_clean_common \
  --model "$TAG=$W@224" --reference-photos 300 --bootstrap 1000 --clean-per-set 0 --out $R/level_visibility_clean_all_${TAG}
if [ -n "${OUT:-}" ]; then
  cp "$W" "$RUN/run.json" "$OUT"/ 2>/dev/null || true
  cp $R/*"$TAG"* "$OUT"/ 2>/dev/null || true
fi
log "done"
