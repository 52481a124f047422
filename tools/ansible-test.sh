#!/usr/bin/env bash
# Run ansible-test on a staged copy of the collection (see tools/stage.py).
#   tools/ansible-test.sh sanity|units|integration [ansible-test options]
# ansible-test runs with HOME=$XDG_CACHE_HOME/vergeos.power/ansible-test-home (~/.cache/... by default; VERGEOS_ANSIBLE_TEST_HOME
# names another), kept between runs and shared by every checkout, never the contributor's own ~/.ansible.
# Fails on "All targets skipped" and on any sanity skip not in tests/sanity/allowed-skips.txt.
#
# With JUNIT_DIR set (tools/run_suites.py sets it through make), the machine-readable
# results go there: sanity runs with --junit (one JUnit XML per sanity test), units
# write pytest's JUnit XML anyway, integration runs with --continue-on-error and the
# targets it selects are listed one per line in $JUNIT_DIR/targets.txt (from
# --list-targets); ansible-test's tests/output/junit and tests/output/data are copied
# to $JUNIT_DIR/junit and $JUNIT_DIR/data.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
command=$1
shift
export PATH="$root/.venv/bin:$PATH"
python=$root/.venv/bin/python
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# ansible-test bootstraps pip in its virtualenvs from a script it downloads from a
# host these machines cannot reach; it uses a cached copy first, so give it one.
pip_version=$("$python" - <<'PY'
import os
import re

import ansible_test

source = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
with open(source, encoding='utf-8') as handle:
    print(re.search(r"pip='([^']+)'", handle.read()).group(1))
PY
)

# ansible-test keeps its cache (that script among it, and the virtualenvs of its sanity tests)
# and ansible its temporary files under ~/.ansible: give them a HOME of the project's own, so
# nothing of the project lands in the contributor's ~/.ansible. It lives in the user's cache
# folder, not in the checkout, so that a fresh clone (CI's) reuses the sanity virtualenvs
# instead of building them again (about two minutes). pip keeps the user's own cache and
# configuration (read before HOME changes), so installs stay as fast as before.
real_home=$HOME
pip_cache=$("$python" -m pip cache dir 2>/dev/null || true)
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-${pip_cache:-$real_home/.cache/pip}}"
if [ -z "${PIP_CONFIG_FILE:-}" ]; then
    for config in "${XDG_CONFIG_HOME:-$real_home/.config}/pip/pip.conf" "$real_home/.pip/pip.conf"; do
        if [ -f "$config" ]; then
            export PIP_CONFIG_FILE=$config
            break
        fi
    done
fi
export HOME="${VERGEOS_ANSIBLE_TEST_HOME:-${XDG_CACHE_HOME:-$real_home/.cache}/vergeos.power/ansible-test-home}"
mkdir -p "$HOME/.ansible/test/cache"
cp "$root/tools/get_pip_standin.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

stage_parent=$(mktemp -d)
trap 'rm -rf "$stage_parent"' EXIT
stage=$("$python" "$root/tools/stage.py" "$stage_parent")
# tools/with_simulator.py names the simulator's coordinates for integration targets.
if [ "$command" = integration ] && [ -n "${VERGEOS_INTEGRATION_CONFIG:-}" ]; then
    cp "$VERGEOS_INTEGRATION_CONFIG" "$stage/tests/integration/integration_config.yml"
fi

options=()
if [ -n "${JUNIT_DIR:-}" ]; then
    mkdir -p "$JUNIT_DIR"
    case $command in
        sanity) options+=(--junit) ;;
        integration)
            options+=(--continue-on-error)
            if ! (cd "$stage" && ansible-test integration --list-targets --python "$pyver" --color no "$@") > "$JUNIT_DIR/targets.txt"; then
                echo "WARNING: ansible-test integration --list-targets failed; $JUNIT_DIR/targets.txt is not written." >&2
                rm -f "$JUNIT_DIR/targets.txt"
            fi
            ;;
    esac
fi

log=$(mktemp)
set +e
(cd "$stage" && ansible-test "$command" --python "$pyver" --color no ${options[@]+"${options[@]}"} "$@") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

mkdir -p "$root/tests/output"
rm -rf "$root/tests/output/ansible-test-$command"
[ -d "$stage/tests/output" ] && cp -r "$stage/tests/output" "$root/tests/output/ansible-test-$command"
if [ -n "${JUNIT_DIR:-}" ]; then
    for kind in junit data; do
        if [ -d "$stage/tests/output/$kind" ]; then
            rm -rf "${JUNIT_DIR:?}/$kind"
            cp -r "$stage/tests/output/$kind" "$JUNIT_DIR/$kind"
        fi
    done
fi

if grep -q 'All targets skipped' "$log"; then
    echo "FAILED: ansible-test $command ran nothing ('All targets skipped')." >&2
    rc=1
fi
# Names of the sanity tests that ran but skipped their work: ansible-test says so
# only in a warning ("Skipping sanity test", or a missing program such as shellcheck).
skipped_sanity_tests() {
    awk '/^WARNING: Reviewing previous/ { exit }
         /^Running sanity test/ { match($0, /"[^"]+"/); current = substr($0, RSTART + 1, RLENGTH - 2) }
         /^WARNING: (Skipping sanity test|Required program)/ { print current }' "$1" | sort -u
}
if [ "$command" = sanity ]; then
    allowed="$root/tests/sanity/allowed-skips.txt"
    while read -r skipped; do
        if ! grep -qx "$skipped" <(grep -v '^#' "$allowed" | cut -d' ' -f1); then
            echo "FAILED: sanity test '$skipped' was skipped and is not in tests/sanity/allowed-skips.txt." >&2
            rc=1
        fi
    done < <(skipped_sanity_tests "$log")
fi
rm -f "$log"
exit "$rc"
