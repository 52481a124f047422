"""The safe_startup role through real playbooks: tiers in order, each up before the next, failures, pre-flight, check mode.

Judged by the simulator's request log (the order of the power-ons, and that nothing was sent
where nothing may be) and by the state it serves.
"""

import sys

import yaml

from run_ansible import run, sim_env

SPEED = 100
TIERS = {"db": 10, "app": 30, "web": 60}


def vm(name, key, **extra):
    return dict({"name": name, "key": key, "power": "stopped"}, **extra)


def three_tiers():
    vms, key = [], 1
    for tier, count in TIERS.items():
        for index in range(count):
            extra = {"guest_agent": True, "timings": {"boot": 150}} if tier == "db" else {}
            vms.append(vm("%s-%02d" % (tier, index + 1), key, **extra))
            key += 1
    return {"speed": SPEED, "timings": {"boot": 20, "shutdown": 20}, "vms": vms}


def playbook(tmp_path, variables, check=False):
    path = tmp_path / "startup.yml"
    play = {"name": "Start in tiers", "hosts": "localhost", "gather_facts": False,
            "vars": dict({"ansible_python_interpreter": sys.executable, "safe_startup_poll_interval": 0.2}, **variables),
            "roles": ["vergeos.power.safe_startup"]}
    if check:
        play["check_mode"] = True
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return str(path)


def poweron_times(log):
    """Return {VM key: time of its poweron POST}."""
    return {int(entry["body"]["vm"]): entry["time"] for entry in log
            if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions" and entry["body"]["action"] == "poweron"}


def keys_of(world, prefix):
    return [v["key"] for v in world["vms"] if v["name"].startswith(prefix)]


def test_three_tiers_start_in_order_each_up_before_the_next(sim, tmp_path):
    world = three_tiers()
    sim.load(world)
    sim.clear_requests()
    tiers = [{"name": "databases", "filters": {"name_regex": "^db-"}, "up": "agent"},
             {"name": "services", "filters": {"name_regex": "^app-"}},
             {"name": "web", "filters": {"name_regex": "^web-"}, "max_concurrent": 30}]
    try:
        result = run("ansible-playbook", playbook(tmp_path, {"safe_startup_tiers": tiers, "safe_startup_max_targets": 100}), env=sim_env(sim))
        log = sim.requests()
        states = {row["name"]: row["status"] for row in sim.api("GET", "/api/v4/vms", params={
            "fields": "name,machine#status#status as status"}).json()}
    finally:
        sim.reset()
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(states.values()) == {"running"}
    sent = poweron_times(log)
    db, app, web = (keys_of(world, prefix) for prefix in ("db-", "app-", "web-"))
    assert len(sent) == 100
    # No VM of a tier is powered on before every VM of the previous tier is up: the databases' agents answer 1.5 s after their
    # power-on (boot 150 at speed 100), the services' first power-on comes after that.
    assert max(sent[key] for key in db) + 1.5 <= min(sent[key] for key in app)
    assert max(sent[key] for key in app) < min(sent[key] for key in web)
    assert "safe_startup: 100 VM(s) in 3 tier(s): 100 started; pre-flight: fits" in result.stdout
    assert "1. databases (10 VM(s), up = agent): up" in result.stdout


def test_a_failed_tier_stops_the_rollout_and_leaves_the_later_tiers_untouched(sim, tmp_path):
    world = {"speed": SPEED, "timings": {"boot": 20}, "vms": [
        vm("db-01", 1), vm("app-01", 2), vm("app-02", 3, guest={"start": "error"}), vm("web-01", 4), vm("web-02", 5)]}
    sim.load(world)
    sim.clear_requests()
    tiers = [{"targets": ["db-01"]}, {"name": "services", "targets": ["app-01", "app-02"], "timeout": 5}, {"targets": ["web-01", "web-02"]}]
    try:
        result = run("ansible-playbook", playbook(tmp_path, {"safe_startup_tiers": tiers}), env=sim_env(sim))
        log = sim.requests()
    finally:
        sim.reset()
    assert result.returncode != 0
    assert sorted(poweron_times(log)) == [1, 2, 3]
    assert "3. tier 3 (2 VM(s), up = running): skipped" in result.stdout
    assert "so the rollout stopped at services" in result.stdout and "app-02" in result.stdout


def test_continue_goes_on_after_a_failed_tier(sim, tmp_path):
    sim.load({"speed": SPEED, "timings": {"boot": 20}, "vms": [vm("app-02", 3, guest={"start": "error"}), vm("web-01", 4)]})
    sim.clear_requests()
    tiers = [{"targets": ["app-02"], "on_failure": "continue", "timeout": 5}, {"targets": ["web-01"]}]
    try:
        result = run("ansible-playbook", playbook(tmp_path, {"safe_startup_tiers": tiers}), env=sim_env(sim))
        log = sim.requests()
    finally:
        sim.reset()
    assert result.returncode != 0 and sorted(poweron_times(log)) == [3, 4]
    assert "2. tier 2 (1 VM(s), up = running): up" in result.stdout


def test_a_plan_that_does_not_fit_is_warned_about_and_refused_on_request(sim, tmp_path):
    world = {"speed": SPEED, "timings": {"boot": 20}, "vms": [vm("small-01", 1), vm("huge-01", 2, ram=4 * 1024 * 1024)]}
    tiers = [{"targets": ["small-01"]}, {"targets": ["huge-01"]}]
    sim.load(world)
    sim.clear_requests()
    try:
        refused = run("ansible-playbook", playbook(tmp_path, {"safe_startup_tiers": tiers, "safe_startup_preflight": "refuse"}),
                      env=sim_env(sim))
        refused_log = sim.requests()
        sim.clear_requests()
        warned = run("ansible-playbook", playbook(tmp_path, {"safe_startup_tiers": tiers}), env=sim_env(sim))
        warned_log = sim.requests()
    finally:
        sim.reset()
    assert refused.returncode != 0 and [entry for entry in refused_log if entry["method"] != "GET"] == []
    assert "the pre-flight check refused the plan (safe_startup_preflight is refuse); nothing was sent" in refused.stdout
    assert "huge-01: needs 4194304 MB of RAM" in refused.stdout
    assert warned.returncode == 0, warned.stdout[-3000:]
    assert "pre-flight: 1 VM(s) may not fit" in warned.stdout and sorted(poweron_times(warned_log)) == [1, 2]


def test_check_mode_prints_the_plan_and_sends_nothing(sim, tmp_path):
    sim.load({"speed": SPEED, "vms": [vm("db-01", 1), vm("web-01", 2), vm("web-02", 3, power="running")]})
    sim.clear_requests()
    tiers = [{"name": "databases", "targets": ["db-01"], "up": "agent"}, {"name": "web", "filters": {"name_regex": "^web"}, "delay": 30}]
    try:
        result = run("ansible-playbook", playbook(tmp_path, {"safe_startup_tiers": tiers}, check=True), env=sim_env(sim))
        log = sim.requests()
    finally:
        sim.reset()
    assert result.returncode == 0, result.stdout[-3000:]
    assert [entry for entry in log if entry["method"] != "GET"] == []
    assert "safe_startup (check mode, nothing sent): 3 VM(s) in 2 tier(s): the plan below; pre-flight: fits" in result.stdout
    assert "2. web (2 VM(s), up = running, then 30s): planned" in result.stdout


def test_inventory_hosts_start_in_the_tiers_of_their_host_variable(sim, tmp_path):
    world = {"speed": SPEED, "timings": {"boot": 50}, "vms": [vm("db-01", 1), vm("web-01", 2), vm("web-02", 3)]}
    sim.load(world)
    sim.clear_requests()
    url = "https://" + sim.host
    hosts = {"db-01": {"vergeos_id": 1, "vergeos_url": url, "startup_tier": 1},
             "web-01": {"vergeos_id": 2, "vergeos_url": url, "startup_tier": 2},
             "web-02": {"vergeos_id": 3, "vergeos_url": url, "startup_tier": 2}}
    inventory = tmp_path / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": local}}))
    path = tmp_path / "hosts_play.yml"
    path.write_text(yaml.safe_dump([{"name": "Start the hosts in tiers", "hosts": "all", "gather_facts": False,
                                     "vars": {"safe_startup_tier_var": "startup_tier", "safe_startup_poll_interval": 0.2},
                                     "roles": ["vergeos.power.safe_startup"]}]))
    try:
        result = run("ansible-playbook", "-i", str(inventory), str(path), env=sim_env(sim))
        log = sim.requests()
    finally:
        sim.reset()
    assert result.returncode == 0, result.stdout[-3000:]
    sent = poweron_times(log)
    assert sorted(sent) == [1, 2, 3] and sent[1] + 0.5 <= min(sent[2], sent[3])
    assert "1. tier 1 (1 VM(s), up = running): up" in result.stdout


def test_the_same_tiers_stop_in_reverse_web_then_services_then_databases(sim, tmp_path):
    world = {"speed": SPEED, "timings": {"shutdown": 60, "kill": 3}, "vms": [
        vm("db-01", 1, power="running"), vm("app-01", 2, power="running"), vm("app-02", 3, power="running"),
        vm("web-01", 4, power="running", timings={"shutdown": 150}), vm("web-02", 5, power="running")]}
    sim.load(world)
    sim.clear_requests()
    tiers = [{"name": "databases", "targets": ["db-01"]}, {"name": "services", "filters": {"name_regex": "^app-"}},
             {"name": "web", "targets": ["web-01", "web-02"]}]
    path = tmp_path / "stop.yml"
    path.write_text(yaml.safe_dump([{"name": "Stop in tiers", "hosts": "localhost", "gather_facts": False,
                                     "vars": {"ansible_python_interpreter": sys.executable, "safe_shutdown_poll_interval": 0.2,
                                              "safe_shutdown_tiers": tiers, "safe_shutdown_timeout": 30},
                                     "roles": ["vergeos.power.safe_shutdown"]}]))
    try:
        result = run("ansible-playbook", str(path), env=sim_env(sim))
        log = sim.requests()
    finally:
        sim.reset()
    assert result.returncode == 0, result.stdout[-3000:]
    stops = {int(entry["body"]["vm"]): entry["time"] for entry in log
             if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions" and entry["body"]["action"] == "poweroff"}
    assert sorted(stops) == [1, 2, 3, 4, 5]
    # web-01 takes 1.5 s to shut down: the services' stop waits for it; the database's waits for the services.
    assert max(stops[4], stops[5]) + 1.5 <= min(stops[2], stops[3])
    assert max(stops[2], stops[3]) + 0.6 <= stops[1]


def test_a_tier_that_cannot_be_stopped_leaves_the_tiers_below_it_running(sim, tmp_path):
    world = {"speed": SPEED, "timings": {"shutdown": 20, "kill": 3}, "vms": [
        vm("db-01", 1, power="running"), vm("web-01", 2, power="running", guest={"acpi": "ignore", "stuck_after_kill": True})]}
    sim.load(world)
    sim.clear_requests()
    path = tmp_path / "stop.yml"
    path.write_text(yaml.safe_dump([{"name": "Stop in tiers", "hosts": "localhost", "gather_facts": False,
                                     "vars": {"ansible_python_interpreter": sys.executable, "safe_shutdown_poll_interval": 0.2,
                                              "safe_shutdown_tiers": [{"name": "databases", "targets": ["db-01"]},
                                                                      {"name": "web", "targets": ["web-01"]}],
                                              "safe_shutdown_timeout": 1, "safe_shutdown_kill_timeout": 1},
                                     "roles": ["vergeos.power.safe_shutdown"]}]))
    try:
        result = run("ansible-playbook", str(path), env=sim_env(sim))
        log = sim.requests()
    finally:
        sim.reset()
    assert result.returncode != 0
    assert [int(entry["body"]["vm"]) for entry in log if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions"] == [2, 2]
    assert "tier web could not be stopped (web-01), so the tiers it needs were left running: databases" in result.stdout, result.stdout[-2500:]


def test_a_misfit_on_a_small_cluster_and_a_start_refused_in_a_race_are_each_reported_per_vm(sim, tmp_path):
    # Two nodes of 8 GB, 1 GB of which the platform keeps (vm_ram 7 GB each): 6 GB + 6 GB + 4 GB cannot all fit.
    # The race's power-on is refused at once (507), as this test judges the refusal, not a start accepted and never carried out.
    world = {"speed": SPEED, "timings": {"boot": 20}, "capacity": {"ram": 8192, "ram_reserve": 1024}, "switches": {"no_resources": "refuse"},
             "nodes": [{"name": "n1"}, {"name": "n2"}], "vms": [vm("big-01", 1, ram=6144), vm("big-02", 2, ram=6144), vm("mid-01", 3, ram=4096)]}
    tiers = [{"targets": ["big-01", "big-02", "mid-01"]}]
    sim.load(world)
    sim.clear_requests()
    try:
        refused = run("ansible-playbook", playbook(tmp_path, {"safe_startup_tiers": tiers, "safe_startup_preflight": "refuse"}),
                      env=sim_env(sim))
        refused_log = sim.requests()
        # Room for all three now (16 GB a node), but a hold armed for the next power-on takes it back after the check: a real 507.
        sim.load(dict(world, capacity={"ram": 16384}))
        sim.api("POST", "/_sim/capacity/holds", auth=None, json={"leave_ram": 1024, "on": "poweron"}).raise_for_status()
        sim.clear_requests()
        raced = run("ansible-playbook", playbook(tmp_path, {"safe_startup_tiers": tiers}), env=sim_env(sim))
    finally:
        sim.reset()
    assert refused.returncode != 0 and [entry for entry in refused_log if entry["method"] != "GET"] == []
    assert "mid-01: needs 4096 MB of RAM; the most any node of its cluster has free is 1024 MB" in refused.stdout
    assert raced.returncode != 0 and "pre-flight: fits" in raced.stdout
    assert "HTTP 507: Insufficient cluster resources" in raced.stdout, raced.stdout[-3000:]


def test_a_tier_up_means_its_agent_answers_or_its_port_answers(sim, tmp_path):
    world = {"speed": SPEED, "timings": {"boot": 20}, "vms": [
        vm("db-01", 1, guest_agent=True, timings={"boot": 20, "agent_delay": 150}),
        vm("svc-01", 2, port={"host": "127.0.0.21", "port": 0}, timings={"boot": 20, "agent_delay": 100}),
        vm("web-01", 4)]}
    sim.load(world)
    ports = {entry["vm"]: entry["port"] for entry in sim.api("GET", "/_sim/ports", auth=None).json()["ports"]}
    sim.clear_requests()
    tiers = [{"name": "db", "targets": ["db-01"], "up": "agent"},
             {"name": "services", "targets": ["svc-01"], "up": "port", "port": ports["svc-01"]},
             {"name": "web", "targets": ["web-01"]}]
    try:
        result = run("ansible-playbook", playbook(tmp_path, {"safe_startup_tiers": tiers}), env=sim_env(sim))
        log = sim.requests()
    finally:
        sim.reset()
    assert result.returncode == 0, result.stdout[-3000:]
    sent = poweron_times(log)
    # The database's agent answers 1.5 s after it runs (0.2 s after its power-on); the service's port opens 1 s after it runs.
    assert sent[1] + 1.7 <= sent[2] and sent[2] + 1.2 <= sent[4]
    assert "2. services (1 VM(s), up = port %d): up" % ports["svc-01"] in result.stdout


def test_tiers_as_the_command_line_gives_them_are_checked_before_anything_is_sent(sim, tmp_path):
    sim.load({"speed": SPEED, "vms": [vm("db-01", 1), vm("web-01", 2)]})
    sim.clear_requests()
    path = playbook(tmp_path, {})
    try:
        as_text = run("ansible-playbook", path, "-e", "safe_startup_tiers=db-01", env=sim_env(sim))
        as_json = run("ansible-playbook", path, "-e", '{"safe_startup_tiers": [{"targets": "db-01"}, {"targets": ["web-01"], "up": "port"}]}',
                      env=sim_env(sim))
        log = sim.requests()
    finally:
        sim.reset()
    # The role's argument spec refuses a string (a list of tiers is JSON on the command line), naming the variable.
    assert as_text.returncode != 0 and "Elements value for option 'safe_startup_tiers' is of type str" in as_text.stdout
    assert as_json.returncode != 0 and "tier 2: up is port, so it needs a port" in as_json.stdout
    assert [entry for entry in log if entry["method"] != "GET"] == []
