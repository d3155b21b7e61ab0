#!/usr/bin/env bash
# Mutation testing of checks/ with mutmut (run by hand, not in CI; results and their reading: docs/mutation.md).
#   bash scripts/mutation.sh [WORKDIR] [mutant name patterns, e.g. "checks.linux.sudo*"]
# Copies the tracked files of this tree to WORKDIR (default /tmp/gxpscan-mutation), rewrites the check decorators
# there (scripts/mutation_undecorate.py), and runs mutmut with its own venv (WORKDIR/.venv, pinned mutmut, this
# machine's packages visible) over checks/ against tests/checks and tests/collectors without the lab tests
# ([tool.mutmut] in pyproject.toml). MUTATION_CHILDREN sets the parallel workers (default 2), MUTATION_TIME_BOX
# the time limit of the run (default 40m).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/gxpscan-mutation}
shift || true
children=${MUTATION_CHILDREN:-2}
# The modules mutated by default: the whole of checks/ is ~8,200 mutants, far more than 40 min on 2 cores shared by
# 8 sessions. These ~1,700 are the password policy and sudo checks, the file-mode checks and the helpers every
# Linux check shares; on that machine (load average ~20) the 40-minute box ran ~1,050 of them (docs/mutation.md).
modules=("checks.linux.password*" "checks.linux.sudo*" "checks.linux.files*" "checks.linux._common*")
[ $# -eq 0 ] || modules=("$@")

rm -rf "$work"
mkdir -p "$work"
(cd "$repo" && git ls-files -z | tar --null -T - -cf -) | tar -C "$work" -xf -
python3 "$repo/scripts/mutation_undecorate.py" "$work/checks"

if [ ! -x "$work/.venv/bin/mutmut" ]; then
  python3 -m venv --system-site-packages "$work/.venv"
  "$work/.venv/bin/pip" install -q 'mutmut==3.8.1' 'pytest>=7'
fi
cd "$work"
start=$SECONDS
# time-boxed: what is not run by then stays "not checked" in the counts below
timeout --signal=INT "${MUTATION_TIME_BOX:-40m}" "$work/.venv/bin/mutmut" run --max-children "$children" \
  "${modules[@]}" || true
echo "mutmut run took $((SECONDS - start)) s"
"$work/.venv/bin/mutmut" results --all true > "$work/results.txt" || true
echo "=== counts (status: mutants)"
awk -F': ' 'NF == 2 {n[$2]++} END {for (s in n) print s ": " n[s]}' "$work/results.txt" | sort
echo "every mutant and its status: $work/results.txt; one mutant's diff: cd $work && .venv/bin/mutmut show NAME"
