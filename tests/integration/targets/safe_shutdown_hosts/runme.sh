#!/usr/bin/env bash
# safe_shutdown over the play's inventory hosts (hosts with vergeos_id and vergeos_url), with the
# connection from the VERGEOS_* environment: linear strategy (one task per stage for the whole
# batch), free strategy (each host its own VM), and hosts of another system refused.
set -eux

# ansible-test strips the environment; the simulator's coordinates are in its integration config.
config="$(dirname "$INVENTORY_PATH")/integration_config.yml"
value() { sed -n "s/^$1: \"\(.*\)\"\$/\1/p" "$config"; }
VERGEOS_HOST=$(value vergeos_host)
VERGEOS_USERNAME=$(value vergeos_username)
VERGEOS_PASSWORD=$(value vergeos_password)
VERGEOS_CA_PATH=$(value vergeos_ca_path)
export VERGEOS_HOST VERGEOS_USERNAME VERGEOS_PASSWORD VERGEOS_CA_PATH

run() { ansible-playbook -i inventory.yml -e "@$config" "$@"; }

run setup.yml
run shutdown.yml -e expect_shared=true

run setup.yml
run shutdown.yml -e play_strategy=free -e expect_shared=false

run setup.yml
if run refused.yml > refused.log 2>&1; then
    echo "the role should have refused hosts of another system" >&2
    exit 1
fi
grep -q 'other-site01' refused.log
grep -q 'not-a-vm01' refused.log
run nothing_sent.yml
