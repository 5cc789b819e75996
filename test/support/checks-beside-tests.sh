#!/usr/bin/env bash
# `npm test` after the build: the type-check and the lint run beside vitest, not before it.
# The integration tests spend much of their time waiting on processes they spawned (a `ben up`
# starting, a pipeline settling), and the checks (~1.5 min of CPU) fill that time instead of
# adding to the run. Each check's output is printed whole once it ends (not interleaved with
# vitest's), and the run fails when any of the three fails. vitest's closing line stays last.
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

npm run -s typecheck >"$dir/typecheck.log" 2>&1 &
typecheck=$!
npm run -s lint >"$dir/lint.log" 2>&1 &
lint=$!
npx vitest run "$@" &
tests=$!

report() {
  local name=$1 pid=$2 rc
  wait "$pid"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "npm test: $name passed"
  else
    echo "npm test: $name FAILED (exit $rc):"
  fi
  cat "$dir/$name.log"
  return "$rc"
}

failed=0
report typecheck "$typecheck" || failed=1
report lint "$lint" || failed=1
wait "$tests" || failed=1
if [ "$failed" -ne 0 ]; then
  echo "npm test: failed (type-check, lint or tests: see above)"
fi
exit "$failed"
