#!/usr/bin/env bash
# The test suite's time (issue 18): CPU (user+sys, the test processes and every process they
# wait for) and wall, of pytest over the given test files (default: all), in one process and
# with pytest-xdist's workers. On a shared machine compare the CPU figures: wall follows the load.
#
#   bench/suite_bench.sh tests/test_store.py tests/test_subscribers.py   # a subset
#   WORKERS="0 2" bench/suite_bench.sh                                    # the whole suite
#
# Gates alone: bench/suite_bench.sh --gates (mypy with an empty cache, as on a fresh clone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${PAPERBOY_VENV:-.venv}"
TIME=(/usr/bin/time -f "%U user %S sys %e wall (s)")

if [ "${1:-}" = "--gates" ]; then
  cache=$(mktemp -d)
  trap 'rm -rf "$cache"' EXIT
  for gate in "ruff format --check --no-cache ." "ruff check --no-cache ." \
    "mypy --strict --cache-dir $cache base paperboy scraper store mailer" "lint-imports --no-cache"; do
    printf '%-72s ' "$gate"
    # shellcheck disable=SC2086  # the gate's words
    { "${TIME[@]}" "$VENV/bin/"$gate 2>&1 >/dev/null || true; } | tail -n 1
  done
  exit 0
fi

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for workers in ${WORKERS:-0 2}; do
  printf 'pytest -n %s: ' "$workers"
  { "${TIME[@]}" "$VENV/bin/pytest" -q -p no:cacheprovider -n "$workers" "$@" 2>&1 >/dev/null ||
    true; } | tail -n 1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
