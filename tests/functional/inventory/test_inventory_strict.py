"""Strict inventory sources: a typo in a key or a boolean fails the source before any request, never widens or weakens it."""

import pytest

from inventory_helpers import HOSTS, api_requests, sim_source


@pytest.mark.parametrize("key, value, nearest", [
    ("filter", {"power_state": ["running"]}, "filters"),  # once silently ignored: every VM listed
    ("want_tag", True, "want_tags"),
    ("hostname", "id", "hostnames"),
])
def test_an_unknown_key_fails_the_source_with_the_nearest_name(scenario, run_inventory, key, value, nearest):
    result = run_inventory(sim_source(scenario, **{key: value}))
    assert result.rc != 0
    assert "unknown key(s) %s (did you mean %s?)" % (key, nearest) in " ".join(result.stderr.split())
    assert api_requests(scenario) == []


def test_an_unknown_key_of_a_site_entry_names_the_nearest_too(scenario, run_inventory):
    source = sim_source(scenario, sites=[{"name": "a", "host": scenario.host, "pasword": "admin"}])
    result = run_inventory(source)
    assert result.rc != 0
    assert "sites[0]: unknown key(s) pasword (did you mean password?)" in " ".join(result.stderr.split())


def test_a_mistyped_boolean_in_the_source_never_turns_verification_off(scenario, run_inventory):
    source = sim_source(scenario, validate_certs="ture")
    del source["ca_path"]
    result = run_inventory(source)
    assert result.rc != 0
    assert "validate_certs must be true or false, not 'ture' (from the source)" in " ".join(result.stderr.split())
    assert api_requests(scenario) == []


@pytest.mark.parametrize("variable", ["VERGEOS_VALIDATE_CERTS"])
def test_a_mistyped_boolean_in_the_environment_is_refused(scenario, run_inventory, variable):
    source = sim_source(scenario)
    del source["ca_path"]
    result = run_inventory(source, env={variable: "ture"})
    assert result.rc != 0
    assert "validate_certs must be true or false, not 'ture' (from %s)" % variable in " ".join(result.stderr.split())
    assert api_requests(scenario) == []


def test_credentials_may_be_templated_in_the_source(scenario, run_inventory):
    source = sim_source(scenario, username="{{ lookup('ansible.builtin.env', 'SOURCE_USER') }}",
                        password="{{ lookup('ansible.builtin.env', 'SOURCE_PASSWORD') }}")
    result = run_inventory(source, env={"SOURCE_USER": "ops", "SOURCE_PASSWORD": "S3cret-Pa55word!"})
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == HOSTS
    assert {entry["user"] for entry in scenario.requests()} == {"ops"}
    assert "S3cret-Pa55word!" not in result.stdout + result.stderr
