#!/usr/bin/env bash
# Mutation testing of checks/ with mutmut (run by hand, not in CI; results and their reading: docs/mutation.md).
#   bash scripts/mutation.sh [WORKDIR] [mutant name patterns, e.g. "checks.linux.sudo.*"]
# Copies the tracked files of this tree to WORKDIR (default /tmp/gxpscan-mutation), rewrites the check decorators
# there (scripts/mutation_undecorate.py), and runs mutmut with its own venv (WORKDIR/.venv, pinned mutmut, this
# machine's packages visible) over checks/ against tests/checks and tests/collectors without the lab tests
# ([tool.mutmut] in pyproject.toml), at nice 10. Each pattern is its own `mutmut run`, one after the other, with
# its time printed, so a module's figures stand alone (the coverage stats of the first run are reused).
# MUTATION_CHILDREN sets the parallel workers (default 2), MUTATION_TIME_BOX the time limit of each pattern's run
# (default 40m), MUTATION_REUSE=1 keeps an existing WORKDIR (its copy, venv and results) instead of recopying.
# Summary per module afterwards: python3 scripts/mutation_survivors.py WORKDIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/gxpscan-mutation}
shift || true
children=${MUTATION_CHILDREN:-2}
# The modules mutated by default, in order of GxP weight (access control, audit trail, encryption first).
modules=("checks.aws.iam.*" "checks.aws.s3.*" "checks.aws.cloudtrail.*" "checks.aws.kms.*"
         "checks.ad.privilege.*" "checks.ad.accounts.*" "checks.ad.policy.*"
         "checks.ldap.*" "checks.linux.ssh.*" "checks.linux.audit.*" "checks.linux.accounts.*"
         "checks.linux.crypto.*" "checks.linux.password.*" "checks.aws._common.*" "checks.aws.backup.*"
         "checks.aws.config.*" "checks.aws.ebs.*" "checks.aws.ec2.*" "checks.aws.logs.*" "checks.aws.rds.*"
         "checks.ad.rules.*" "checks.linux.backup.*" "checks.linux.logs.*" "checks.linux.time.*"
         "checks.linux.sudo.*" "checks.linux.files.*" "checks.linux._common.*")
[ $# -eq 0 ] || modules=("$@")

if [ "${MUTATION_REUSE:-0}" != 1 ] || [ ! -d "$work/checks" ]; then
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$repo" && git ls-files -z | tar --null -T - -cf -) | tar -C "$work" -xf -
  python3 "$repo/scripts/mutation_undecorate.py" "$work/checks"
fi

if [ ! -x "$work/.venv/bin/mutmut" ]; then
  python3 -m venv --system-site-packages "$work/.venv"
  "$work/.venv/bin/pip" install -q 'mutmut==3.8.1' 'pytest>=7'
fi
cd "$work"
for pattern in "${modules[@]}"; do
  start=$SECONDS
  # time-boxed: what is not run by then stays "not checked" in the counts
  timeout --signal=INT "${MUTATION_TIME_BOX:-40m}" nice -n 10 "$work/.venv/bin/mutmut" run \
    --max-children "$children" "$pattern" > "$work/run-${pattern//[^a-zA-Z0-9_]/_}.log" 2>&1 || true
  echo "$pattern: $((SECONDS - start)) s" | tee -a "$work/times.txt"
done
"$work/.venv/bin/mutmut" results --all true > "$work/results.txt" || true
echo "=== counts (status: mutants)"
awk -F': ' 'NF == 2 {n[$2]++} END {for (s in n) print s ": " n[s]}' "$work/results.txt" | sort
echo "every mutant and its status: $work/results.txt; one mutant's diff: cd $work && .venv/bin/mutmut show NAME"
