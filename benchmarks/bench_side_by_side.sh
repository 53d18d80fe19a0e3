#!/bin/bash
# Side by side on one machine, one run: before = the checkout in $BEFORE (e.g. git worktree add /tmp/head 85bbe8d), now = this tree.
cd "$(dirname "$0")/.."
D=../shared/data/clips/LivePortrait__assets__examples__driving__d12.mp4
for round in 1 2; do
  echo "== round $round: generate before"; PYTHONPATH=${BEFORE:-/tmp/head}/src .venv/bin/python ${BEFORE:-/tmp/head}/benchmarks/bench_generate.py --seconds 20 2>&1 | grep -E "frames/s"
  echo "== round $round: generate now"; .venv/bin/python benchmarks/bench_generate.py --seconds 20 2>&1 | grep -E "frames/s"
  echo "== round $round: reenact before (d12)"; PYTHONPATH=${BEFORE:-/tmp/head}/src .venv/bin/python ${BEFORE:-/tmp/head}/benchmarks/bench_reenact.py --driving $D 2>&1 | grep -E "frames/s"
  echo "== round $round: reenact now (d12)"; .venv/bin/python benchmarks/bench_reenact.py --driving $D 2>&1 | grep -E "frames/s"
  echo "== round $round: reenact before (bundled)"; PYTHONPATH=${BEFORE:-/tmp/head}/src .venv/bin/python ${BEFORE:-/tmp/head}/benchmarks/bench_reenact.py 2>&1 | grep -E "frames/s"
  echo "== round $round: reenact now (bundled)"; .venv/bin/python benchmarks/bench_reenact.py 2>&1 | grep -E "frames/s"
done
# The server of each tree, in turns (its own bench_serve.py: it writes that tree's results/).
for t in before now; do
  if [ $t = before ]; then P=${BEFORE:-/tmp/head}; else P=.; fi
  echo "== serve $t"; PYTHONPATH=$P/src .venv/bin/python $P/benchmarks/bench_serve.py --skip sustained,capacity --trials 8 --workers 2 2>&1 | grep -E "^first|^gaze" | sed -E "s/'changes'.*//"
done
