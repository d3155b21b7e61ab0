#!/usr/bin/env bash
# The test suite on every supported Python, from a fresh Debian 12 machine (as root). CI runs exactly this.
#   1. scripts/install-deps.sh: the lab servers' Debian packages and one venv per supported Python (.venvs/py3.X)
#   2. the whole suite, lab servers included, on the oldest and on the newest supported Python; on the newest with
#      branch coverage of scanner/ and checks/ ([tool.coverage.*] in pyproject.toml: a total below fail_under fails)
#   3. the unit tests (tests marked lab left out: tests/conftest.py marks them) on every version between
#   4. ruff and mypy (newest Python)
# Arguments are passed to every pytest run. Every step runs even when an earlier one failed; the run fails if
# any step did. At the end: a table of the steps with their time, then one line with the test totals.
# With CI=true a missing interpreter or lab server is a failure (tests/conftest.py); elsewhere a missing
# interpreter is skipped with a note.
set -uo pipefail
cd "$(dirname "$0")/.."

steps=()
status=0
totals_passed=0
totals_failed=0
totals_skipped=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs "$@" as step $1 (name), recording its time and result; a pytest step's counts go into the totals.
step() {
  local name=$1 start=$SECONDS rc summary n coverage
  shift
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$logs/step.log"
  rc=${PIPESTATUS[0]}
  # pytest's closing line, e.g. "3 failed, 650 passed, 4 skipped, 2 warnings in 80.1s (0:01:20)"
  summary=$(grep -E '^[= ]*[0-9]+ [a-z]+(, [0-9]+ [a-z]+)* in [0-9.]+s' "$logs/step.log" | tail -1)
  coverage=$(grep -E '^TOTAL +[0-9]' "$logs/step.log" | tail -1 | awk '{print $NF}')
  if [ -n "$summary" ]; then
    n=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || true); totals_passed=$((totals_passed + ${n:-0}))
    n=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+' || true); totals_failed=$((totals_failed + ${n:-0}))
    n=$(grep -oE '[0-9]+ errors?' <<<"$summary" | grep -oE '[0-9]+' || true); totals_failed=$((totals_failed + ${n:-0}))
    n=$(grep -oE '[0-9]+ skipped' <<<"$summary" | grep -oE '[0-9]+' || true); totals_skipped=$((totals_skipped + ${n:-0}))
  fi
  if [ "$rc" -ne 0 ]; then
    status=1
    steps+=("$(printf '%-44s %5ss  FAILED (exit %s)' "$name" $((SECONDS - start)) "$rc")")
  else
    steps+=("$(printf '%-44s %5ss  ok' "$name" $((SECONDS - start)))")
  fi
  [ -z "$summary" ] || steps[-1]+="  ${summary//=/}"
  [ -z "$coverage" ] || steps[-1]+=", branch coverage $coverage"
}

skip() {
  steps+=("$(printf '%-44s %5s   skipped: %s' "$1" - "$2")")
}

step "install (scripts/install-deps.sh)" bash scripts/install-deps.sh

mapfile -t versions < <(grep -o '"Programming Language :: Python :: 3\.[0-9]*"' pyproject.toml |
                        grep -o '3\.[0-9]*' | sort -t. -k2,2n)
oldest=${versions[0]}
newest=${versions[-1]}
for version in "${versions[@]}"; do
  python=.venvs/py$version/bin/python
  if [ "$version" = "$oldest" ] || [ "$version" = "$newest" ]; then
    name="pytest whole suite, Python $version"
    args=()
    if [ "$version" = "$newest" ]; then
      name+=" + coverage"
      args=(--cov --cov-report=term)
    fi
  else
    name="pytest unit tests, Python $version"
    args=(-m "not lab")
  fi
  if [ -x "$python" ]; then
    step "$name" "$python" -m pytest -q "${args[@]}" "$@"
  else
    skip "$name" "no Python $version here (see install step)"
  fi
done

if [ -x ".venvs/py$newest/bin/python" ]; then
  step "ruff (Python $newest)" ".venvs/py$newest/bin/python" -m ruff check scanner checks reports tests benchmarks
  step "mypy (Python $newest)" ".venvs/py$newest/bin/python" -m mypy
else
  status=1
  skip "ruff and mypy" "no venv for Python $newest"
fi

echo
echo "=== summary (seconds per step; total ${SECONDS}s)"
printf '%s\n' "${steps[@]}"
echo "total: $totals_passed passed, $totals_failed failed, $totals_skipped skipped"
exit $status
