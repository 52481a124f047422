"""AWX / Automation Controller jobs run the way the controller runs them: ansible-runner on a private data dir.

Each test lays out a private data dir as the controller does (awx_controller.ControllerJob):
the VergeOS credential rendered from docs/awx/credential_type.yml into env/envvars and a CA
file in env/, the controller's extra vars in env/extravars (survey answers tagged !unsafe),
a project, and the job's inventory as a script. Then ansible-runner runs it:

- an inventory update of a `*.vergeos.yml` source (API key credential), and one that fails;
- a playbook job over the hosts that update found (password credential), with fact storage;
- a job of playbooks/maintenance.yml with survey answers (text for lists and numbers), and
  one whose survey answer is bad.

What is judged is what the controller would read back (the status, the job events per host,
the inventory update's output.json), what the simulator was asked (its request log), and that
no secret is in any file under artifacts/ but ansible-runner's own record of the environment
it started the command with.
"""

import base64
import json

import pytest

from awx_controller import ControllerJob

PASSWORD = "Runner-Pa55-kept-out-of-events"
API_KEY = "runner-key-kept-out-of-artifacts-42"
# Basic authentication sends base64("user:password"): a header written out would leak it in that form.
SECRETS = [PASSWORD, API_KEY, base64.b64encode(("ops:%s" % PASSWORD).encode()).decode()]
WORLD = {
    "speed": 100,
    "users": [{"name": "admin", "password": "admin"}, {"name": "ops", "password": PASSWORD}],
    "api_keys": [{"key": API_KEY, "role": "admin", "user": "automation"}],
    "tag_categories": [{"name": "role"}],
    "tags": [{"name": "web", "category": "role"}, {"name": "db", "category": "role"}],
    "vms": [
        {"name": "web01", "key": 11, "power": "running", "tags": ["web"]},
        {"name": "web02", "key": 12, "power": "running", "tags": ["web"]},
        {"name": "web03", "key": 13, "power": "stopped", "tags": ["web"]},
        {"name": "db01", "key": 21, "power": "running", "tags": ["db"]},
        {"name": "db02", "key": 22, "power": "running", "tags": ["db"]},
        {"name": "app01", "key": 31, "power": "stopped"},
    ],
}
KEYS = {vm["name"]: vm["key"] for vm in WORLD["vms"]}
SOURCE = {"plugin": "vergeos.power.vergeos", "keyed_groups": [{"key": "vergeos_tags", "prefix": "tagged"}]}


@pytest.fixture
def site(sim, tmp_path):
    sim.load(WORLD)
    sim.clear_requests()
    sim.tmp = tmp_path
    with open(sim.ca, encoding="utf-8") as handle:
        sim.ca_pem = handle.read()
    yield sim
    sim.reset()


def password_credential(site):
    return {"host": site.host, "username": "ops", "password": PASSWORD, "ca_cert": site.ca_pem}


def api_key_credential(site):
    return {"host": site.url, "api_key": API_KEY, "ca_cert": site.ca_pem, "api_timeout": "20"}


def actions(site):
    """Return the VM actions the simulator was asked for, [(action, VM name)] sorted."""
    names = {key: name for name, key in KEYS.items()}
    return sorted((entry["body"]["action"], names[int(entry["body"]["vm"])]) for entry in site.requests()
                  if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions")


def writes(site):
    return [entry for entry in site.requests() if entry["method"] != "GET"]


def users(site):
    return {entry["user"] for entry in site.requests()}


def assert_no_secret_but_the_runner_record(result, secret):
    """The injected secret is only in ansible-runner's record of the environment; no other secret anywhere."""
    assert result.secret_files(*SECRETS) == [(result.command_record(), secret)]


def inventory_update(site, credential, ident=101):
    job = ControllerJob(site.tmp, ident, credential, inventory_update=True)
    job.project_file("inventories/prod.vergeos.yml", SOURCE)
    return job.run_inventory_update("inventories/prod.vergeos.yml")


# ---------------------------------------------------------------- inventory updates


def test_inventory_update_with_an_api_key_credential(site):
    result, data = inventory_update(site, api_key_credential(site))
    assert (result.status, result.rc) == ("successful", 0), result.output()
    assert set(data["_meta"]["hostvars"]) == set(KEYS)
    assert set(data["tagged_web"]["hosts"]) == {"web01", "web02", "web03"}
    assert set(data["vergeos_power_running"]["hosts"]) == {"web01", "web02", "db01", "db02"}
    assert data["_meta"]["hostvars"]["db02"]["vergeos_id"] == 22
    assert users(site) == {"automation"} and writes(site) == []
    assert_no_secret_but_the_runner_record(result, API_KEY)


def test_an_inventory_update_that_cannot_verify_tls_fails_and_says_why(site):
    """No CA in the credential, box unticked: verification stays on and the update fails (it does not come back empty)."""
    credential = dict(password_credential(site), ca_cert="")
    result, data = inventory_update(site, credential)
    assert (result.status, data) == ("failed", None), result.output()
    assert result.rc != 0
    said = "".join(event["stdout"] for event in result.events("verbose"))
    assert "TLS certificate verification of %s failed" % site.url in said
    assert site.requests() == []
    assert_no_secret_but_the_runner_record(result, PASSWORD)


# ---------------------------------------------------------------- a playbook job over the updated inventory


WEB_TIER = [{
    "name": "Stop the web tier",
    "hosts": "tagged_web",
    "gather_facts": False,
    "tasks": [
        {"name": "Read this host's VM", "vergeos.power.vergeos_vm_info": {}, "register": "vm"},
        {"name": "Keep it in the fact storage", "ansible.builtin.set_fact": {"vm_before": "{{ vm.vms[0] }}", "cacheable": True}},
        {"name": "Stop this host's VM", "vergeos.power.vergeos_vm_power": {"state": "stopped", "poll_interval": 0.2}},
    ],
}]


def test_a_playbook_job_over_the_hosts_of_an_inventory_update(site):
    """The update (run as on "Update on launch") gives the hosts; the job acts on each host's own VM, credential from the env only."""
    update, hosts = inventory_update(site, password_credential(site))
    assert update.status == "successful", update.output()
    site.clear_requests()

    job = ControllerJob(site.tmp, 4711, password_credential(site))
    job.inventory(hosts)
    job.project_file("web_tier.yml", WEB_TIER)
    job.extravars()
    job.cmdline("-vvv")  # the template's verbosity "3 (Debug)": the most a job shows of its results
    result = job.run_playbook("web_tier.yml")
    assert (result.status, result.rc) == ("successful", 0), result.output()

    web = ["web01", "web02", "web03"]
    for task in ("Read this host's VM", "Keep it in the fact storage", "Stop this host's VM"):
        assert result.hosts("runner_on_ok", task) == web
    assert result.events("runner_on_failed", "runner_on_unreachable") == []
    stats = result.stats()
    assert stats["ok"] == {"web01": 3, "web02": 3, "web03": 3}
    assert stats["changed"] == {"web01": 1, "web02": 1}
    assert not stats["failures"] and not stats["dark"]

    assert actions(site) == [("poweroff", "web01"), ("poweroff", "web02")]
    assert users(site) == {"ops"}
    # The credential reached the modules from the injected environment alone: the CA from the file injector, the password hidden.
    for host, res in result.results("runner_on_ok", "Read this host's VM").items():
        assert res["invocation"]["module_args"]["ca_path"] == job.credential_env["VERGEOS_CA_PATH"]
        assert res["invocation"]["module_args"]["validate_certs"] is True
        assert res["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
        assert res["invocation"]["module_args"]["id"] == KEYS[host]
    # What the job kept in the fact storage is each host's VM as it was read.
    assert {name: result.facts(name)["vm_before"]["power_state"] for name in web} == {
        "web01": "running", "web02": "running", "web03": "stopped"}
    assert_no_secret_but_the_runner_record(result, PASSWORD)


# ---------------------------------------------------------------- a survey job: the maintenance round trip


# The project's playbook of the job template: the collection's round trip.
MAINTENANCE = [{"name": "Maintenance window", "ansible.builtin.import_playbook": "vergeos.power.maintenance"}]
# The work, a tasks file of the project: it runs while the VMs are off.
WORK = [
    {"name": "Read the VMs under maintenance", "vergeos.power.vergeos_vm_info": {"names": ["web01", "db01", "app01"]},
     "register": "during"},
    {"name": "Check they are all off", "ansible.builtin.assert": {
        "that": ["during.vms | map(attribute='power_state') | unique | list == ['stopped']"]}},
]
# The job template's own extra vars (trusted), with the work's path in the project (/runner/project/work.yml in an
# Execution Environment; {{ playbook_dir }} would be the collection's playbooks/, the imported playbook's folder) ...
TEMPLATE_VARS = {"maintenance_record": "awx-window"}
# ... and the survey's answers, as the controller hands them over: text for lists and numbers, !unsafe.
SURVEY = {"maintenance_targets": "web01\ndb01\napp01\n", "maintenance_timeout": "30", "maintenance_max_targets": "5",
          "maintenance_poll_interval": "0.2", "maintenance_wait_for_agent": "false"}

# The inventory of such a job, as AWX's own demo inventory has it.
LOCALHOST = {"all": {"hosts": ["localhost"]}, "_meta": {"hostvars": {"localhost": {
    "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}


def maintenance_job(site, ident, survey):
    job = ControllerJob(site.tmp, ident, password_credential(site))
    job.project_file("maintenance_window.yml", MAINTENANCE)
    job.project_file("work.yml", WORK)
    job.inventory(LOCALHOST)
    job.extravars(trusted=dict(TEMPLATE_VARS, maintenance_tasks=str(job.project / "work.yml")), survey=survey)
    return job.run_playbook("maintenance_window.yml")


def test_a_survey_job_runs_the_maintenance_round_trip(site):
    result = maintenance_job(site, 4712, SURVEY)
    assert (result.status, result.rc) == ("successful", 0), result.output()
    assert result.hosts("runner_on_ok", "Check they are all off") == ["localhost"]
    assert result.events("runner_on_failed", "runner_on_unreachable") == []
    stats = result.stats()
    assert set(stats["ok"]) == {"localhost"} and not stats["failures"] and not stats["dark"]
    # The recap's changed count is the changed results, all from the collection's two writing modules.
    changed = [event["event_data"] for event in result.events("runner_on_ok") if event["event_data"]["res"].get("changed")]
    assert stats["changed"] == {"localhost": len(changed)}
    assert {data["resolved_action"] for data in changed} == {"vergeos.power.vergeos_maintenance_record", "vergeos.power.vergeos_vm_power"}
    # Exactly the two running targets went down and came back; app01 (already off) and the rest were left alone.
    assert actions(site) == [("poweroff", "db01"), ("poweroff", "web01"), ("poweron", "db01"), ("poweron", "web01")]
    # The maintenance record, opened on the system before the stop, names the AWX job; it is closed again.
    opened = [entry["body"] for entry in site.requests() if entry["method"] == "POST" and entry["path"] == "/api/v4/tags"]
    # The record's lease is taken first, then the record and its set covers; its closing mark (docs/maintenance.md) is written
    # when it is closed.
    assert [body["name"] for body in opened] == ["awx-window+lease", "awx-window", "awx-window+covers", "awx-window+closed"]
    assert json.loads(opened[0]["description"])["owner"] == "AWX job 4712"
    assert json.loads(opened[1]["description"])["note"] == "AWX job 4712"
    assert users(site) == {"ops"}
    assert "awx-window" not in [tag["name"] for tag in site.api("GET", "/api/v4/tags", params={"fields": "name"}).json()]
    assert_no_secret_but_the_runner_record(result, PASSWORD)


@pytest.mark.parametrize("answer, said", [
    ({"maintenance_timeout": "soon"}, "safe_shutdown_timeout"),
    # A survey answer is never templated (!unsafe): this stays a strange VM name, it never reads the injected password.
    ({"maintenance_targets": "web01\n{{ lookup('env', 'VERGEOS_PASSWORD') }}"}, "{{ lookup('env', 'VERGEOS_PASSWORD') }}"),
], ids=["text-for-a-number", "template-in-a-target"])
def test_a_bad_survey_answer_fails_the_job_before_any_write(site, answer, said):
    result = maintenance_job(site, 4713, dict(SURVEY, **answer))
    assert result.status == "failed", result.output()
    assert result.rc != 0
    failed = result.events("runner_on_failed")
    assert failed and {event["event_data"]["host"] for event in failed} == {"localhost"}
    assert said in failed[-1]["event_data"]["res"]["msg"]
    assert result.stats()["failures"] == {"localhost": 1}
    assert writes(site) == []
    assert_no_secret_but_the_runner_record(result, PASSWORD)
