# shellcheck shell=bash
# Helpers for scripts/test.sh: phases with a result line each, node:test runs with counts, and a
# leak check that finds (and stops) every process this run started, by a run ID in its environment.

SUITE_ROOT="${SUITE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SUITE_RESULTS_DIR="${SUITE_RESULTS_DIR:-$SUITE_ROOT/out/test-results}"

# One row per phase: "name|status|detail|seconds|log". status: ok, FAILED, skipped.
SUITE_ROWS=()
SUITE_PASSED=0
SUITE_FAILED=0
SUITE_SKIPPED=0
SUITE_ANY_FAILED=0
# The whole run stops starting test files after this many seconds (a cap against hangs: a CI run takes ~9 min).
SUITE_DEADLINE=$((SECONDS + ${FLEET_TEST_BUDGET:-1020}))
# Colours only on a terminal.
if [[ -t 1 ]]; then
  C_BOLD='\033[1m' C_RED='\033[31m' C_GREEN='\033[32m' C_YELLOW='\033[33m' C_OFF='\033[0m'
else
  C_BOLD='' C_RED='' C_GREEN='' C_YELLOW='' C_OFF=''
fi

suite_banner() {
  printf "\n${C_BOLD}=== %s ===${C_OFF}\n" "$*"
}

suite_record() { # name status detail seconds log
  SUITE_ROWS+=("$1|$2|$3|$4|$5")
  [[ $2 == FAILED ]] && SUITE_ANY_FAILED=1
  return 0
}

# Runs a command as a phase, its output both on the terminal and in out/test-results/<slug>.log.
# A phase that exceeds `seconds` is stopped (its whole process group) and fails.
suite_step() { # name slug seconds command...
  local name=$1 slug=$2 limit=$3
  shift 3
  local log=$SUITE_RESULTS_DIR/$slug.log start=$SECONDS rc
  suite_banner "$name"
  # timeout puts the command in its own process group and signals the whole group when time is up.
  timeout --kill-after=20 "$limit" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local took=$((SECONDS - start))
  if ((rc == 0)); then
    suite_record "$name" ok "" "$took" "$log"
  elif ((rc == 124 || rc == 137)); then
    suite_record "$name" FAILED "timed out after ${limit}s" "$took" "$log"
  else
    suite_record "$name" FAILED "exit code $rc" "$took" "$log"
  fi
  return "$rc"
}

suite_skip() { # name reason
  suite_banner "$1"
  printf '!! SKIPPED: %s\n' "$2"
  suite_record "$1" skipped "$2" 0 ""
}

# Runs test files with node's test runner (tsx for TypeScript), each file in its own run so that
# a file that hangs costs at most `per_file` seconds and the others still report. The spec
# reporter goes to the terminal and out/test-results/<slug>.log, TAP to <slug>/<n>.<attempt>.tap, which the
# counts come from. After `budget` seconds the remaining files are not started (and fail).
suite_node_tests() { # name slug budget per_file files...
  local name=$1 slug=$2 budget=$3 per_file=$4
  shift 4
  if (($# == 0)); then
    suite_skip "$name" "no test files"
    return 0
  fi
  local dir=$SUITE_RESULTS_DIR/$slug log=$SUITE_RESULTS_DIR/$slug.log start=$SECONDS
  rm -rf "$dir" "$log" "$SUITE_RESULTS_DIR/$slug".{errors,flaky,failed,skipped}
  mkdir -p "$dir"
  suite_banner "$name ($# files)"
  local pass=0 fail=0 skipped=0 n=0 rc file tap f_pass f_fail f_skip
  local bad=() unrun=()
  for file in "$@"; do
    n=$((n + 1))
    if ((SECONDS - start >= budget || SECONDS >= SUITE_DEADLINE - 10)); then
      unrun+=("$file")
      continue
    fi
    # A file that fails is run once more when SUITE_RETRIES=1 (the UI phases: a real browser on a
    # loaded machine) and there is time: it then counts as passed, but is listed as flaky in the
    # summary with the first run's errors, so a flaky test stays visible. Never for a timeout.
    local attempt verdict first_errors="" began
    for ((attempt = 1; attempt <= 1 + ${SUITE_RETRIES:-0}; attempt++)); do
      # Never past the whole run's deadline. Node's --test-timeout also caps the whole file (Node 20),
      # so it is set a little under the hard limit: node then reports the file as timed out itself.
      local limit=$per_file
      ((SUITE_DEADLINE - SECONDS < limit)) && limit=$((SUITE_DEADLINE - SECONDS))
      tap=$dir/$n.$attempt.tap
      began=$SECONDS
      if ((attempt == 1)); then
        printf '\n--- %s\n' "$file" | tee -a "$log"
      else
        printf '\n--- %s (again: the first run failed)\n' "$file" | tee -a "$log"
      fi
      timeout --kill-after=20 "$limit" \
        node --import tsx --test --test-concurrency=1 --test-timeout=$(((limit > 10 ? limit - 5 : limit) * 1000)) \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" \
        "$file" 2>&1 | tee -a "$log"
      rc=${PIPESTATUS[0]}
      f_pass=$(suite_tap_count pass "$tap")
      f_fail=$(($(suite_tap_count fail "$tap") + $(suite_tap_count cancelled "$tap")))
      f_skip=$(($(suite_tap_count skipped "$tap") + $(suite_tap_count todo "$tap")))
      verdict=ok
      if ((rc == 124 || rc == 137)); then
        verdict="timed out after ${limit}s"
      elif [[ -f $tap ]] && grep -q "^  error: 'test timed out after" "$tap"; then
        verdict="timed out after ${limit}s"
      elif ((rc != 0 || f_fail > 0)); then
        verdict=failed
      fi
      [[ $verdict == ok ]] && break
      ((f_fail == 0)) && f_fail=1
      # Why it failed, in the summary's tail: the first lines of each failing test's error.
      [[ -f $tap ]] && first_errors=$(suite_tap_errors "$tap")
      # Retry only a plain failure, and only when a whole second run still fits the budgets.
      [[ $verdict == failed ]] || break
      local again=$((2 * (SECONDS - began) + 30))
      ((SECONDS - start + again <= budget && SECONDS + again <= SUITE_DEADLINE - 10)) || break
    done
    if [[ $verdict == ok && $attempt -gt 1 ]]; then
      printf '%s\n' "$file (failed, then passed when run again)" >>"$SUITE_RESULTS_DIR/$slug.flaky"
      printf '%s\n' "$first_errors" >>"$SUITE_RESULTS_DIR/$slug.flaky"
    elif [[ $verdict == failed ]]; then
      bad+=("$file")
    elif [[ $verdict != ok ]]; then
      bad+=("$file ($verdict)")
    fi
    [[ $verdict != ok && -n $first_errors ]] && printf '%s\n' "$first_errors" >>"$SUITE_RESULTS_DIR/$slug.errors"
    pass=$((pass + f_pass))
    fail=$((fail + f_fail))
    skipped=$((skipped + f_skip))
    # Why tests were skipped, so a local run cannot look green by accident.
    if [[ -f $tap ]] && grep -q '# SKIP' "$tap"; then
      grep -o '# SKIP.*' "$tap" | sed "s|^# SKIP *|$file: |" >>"$SUITE_RESULTS_DIR/$slug.skipped"
    fi
  done
  local took=$((SECONDS - start))
  fail=$((fail + ${#unrun[@]}))
  SUITE_PASSED=$((SUITE_PASSED + pass))
  SUITE_FAILED=$((SUITE_FAILED + fail))
  SUITE_SKIPPED=$((SUITE_SKIPPED + skipped))
  local detail="$pass passed, $fail failed, $skipped skipped"
  ((${#unrun[@]})) && bad+=("${unrun[@]/%/ (not run: the time budget was used up)}")
  if ((${#bad[@]})); then
    suite_record "$name" FAILED "$detail" "$took" "$log"
    printf '%s\n' "${bad[@]}" >"$SUITE_RESULTS_DIR/$slug.failed"
  else
    suite_record "$name" ok "$detail" "$took" "$log"
  fi
  return 0
}

# The failing tests of a TAP file (leaf tests, not the suites around them), each with the first
# lines of its error and where it was thrown, so a CI log's tail says why and not only which file.
suite_tap_errors() { # tapfile
  awk '
    function flush() { if (name != "" && nerr > 0 && !suite) { printf "  ✖ %s\n", name; for (i = 1; i <= nerr; i++) printf "      %s\n", err[i]; if (loc != "") printf "      at %s\n", loc } name = ""; nerr = 0; loc = ""; inerr = 0; suite = 0 }
    /^ *not ok [0-9]+ - / { flush(); name = $0; sub(/^ *not ok [0-9]+ - /, "", name); next }
    /^ *ok [0-9]+ - / { flush(); next }
    name != "" && /^ *location: / { loc = $0; sub(/^ *location: /, "", loc); gsub(/\x27/, "", loc); next }
    name != "" && /^ *failureType: .subtestsFailed./ { suite = 1; next }
    name != "" && /^ *error: / { inerr = 1; v = $0; sub(/^ *error: *(\|-?)? */, "", v); gsub(/^\x27|\x27$/, "", v); if (v != "") err[++nerr] = v; next }
    inerr && /^ *(code|name|expected|actual|operator|stack|failureType|location|duration_ms):/ { inerr = 0; next }
    inerr && /^ *\.\.\./ { inerr = 0; next }
    inerr && nerr < 8 { v = $0; sub(/^ +/, "", v); if (v != "") err[++nerr] = v; next }
    END { flush() }
  ' "$1" | head -n 60
}

suite_tap_count() { # key tapfile -> the number on the final "# key N" line, 0 if none
  local n=0
  [[ -f $2 ]] && n=$(grep -E "^# $1 [0-9]+$" "$2" | tail -n 1 | awk '{print $3}')
  printf '%s' "${n:-0}"
}

# Processes whose environment carries FLEET_TEST_RUN_ID=<id>: everything this run started, even
# daemons that left the process group with setsid. Reads /proc with bash builtins only, so the
# scan itself does not show up.
suite_run_processes() { # run-id
  local want="FLEET_TEST_RUN_ID=$1" p pid entries
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    entries=()
    mapfile -d '' -t entries 2>/dev/null <"$p/environ" || continue
    local e
    for e in "${entries[@]}"; do
      if [[ $e == "$want" ]]; then
        printf '%s\n' "$pid"
        break
      fi
    done
  done
}

suite_cmdline() { # pid
  local parts=()
  mapfile -d '' -t parts 2>/dev/null <"/proc/$1/cmdline" || true
  printf '%s' "${parts[*]:0:6}"
}

# Waits up to `grace` seconds for this run's processes to exit by themselves, then lists and stops
# the rest (TERM, then KILL). Returns 1 when anything was left over.
suite_reap() { # run-id grace-seconds
  local id=$1 grace=${2:-5} left=() pid i
  for ((i = 0; i < grace * 10; i++)); do
    mapfile -t left < <(suite_run_processes "$id")
    ((${#left[@]} == 0)) && return 0
    sleep 0.1
  done
  printf '!! %d process(es) of this run were still running; stopping them:\n' "${#left[@]}" >&2
  for pid in "${left[@]}"; do
    printf '!!   pid %s: %s\n' "$pid" "$(suite_cmdline "$pid")" >&2
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < 50; i++)); do
    mapfile -t left < <(suite_run_processes "$id")
    ((${#left[@]} == 0)) && return 1
    sleep 0.1
  done
  for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  return 1
}

suite_summary() {
  local row name status detail took log
  printf "\n${C_BOLD}================================ summary ================================${C_OFF}\n"
  for row in "${SUITE_ROWS[@]}"; do
    IFS='|' read -r name status detail took log <<<"$row"
    local colour=$C_GREEN
    [[ $status == FAILED ]] && colour=$C_RED
    [[ $status == skipped ]] && colour=$C_YELLOW
    printf "%-38s ${colour}%-7s${C_OFF} %5ss  %s\n" "$name" "$status" "$took" "$detail"
    if [[ $status == FAILED && -n $log ]]; then
      printf '%-38s         log: %s\n' "" "${log#"$SUITE_ROOT"/}"
    fi
  done
  local f
  for f in "$SUITE_RESULTS_DIR"/*.skipped; do
    [[ -f $f ]] || continue
    printf '\nskipped in %s:\n' "$(basename "$f" .skipped)"
    sort "$f" | uniq -c | sed 's/^ */  /'
  done
  for f in "$SUITE_RESULTS_DIR"/*.flaky; do
    [[ -f $f ]] || continue
    printf "\n${C_YELLOW}flaky in %s (failed once, passed when run again; fix these):${C_OFF}\n" "$(basename "$f" .flaky)"
    head -n 40 "$f" | sed 's/^/  /'
  done
  for f in "$SUITE_RESULTS_DIR"/*.failed; do
    [[ -f $f ]] || continue
    printf "\n${C_RED}failing files in %s:${C_OFF}\n" "$(basename "$f" .failed)"
    sed 's/^/  /' "$f"
    local errors="${f%.failed}.errors"
    [[ -s $errors ]] && printf 'why:\n' && head -n 40 "$errors"
  done
  printf '%s\n' '-------------------------------------------------------------------------'
  if ((SUITE_ANY_FAILED)); then
    printf "${C_RED}FAILED${C_OFF}: "
  else
    printf "${C_GREEN}OK${C_OFF}: "
  fi
  printf '%d passed, %d failed, %d skipped\n' "$SUITE_PASSED" "$SUITE_FAILED" "$SUITE_SKIPPED"
}
