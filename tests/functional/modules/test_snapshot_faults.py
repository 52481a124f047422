"""vergeos_vm_snapshot through a lossy API (real ansible-playbook, real simulator): read back before any second send.

One play, three VMs, one fault each, installed just before that VM's snapshot task:
an answer lost after the snapshot was taken (1 POST), a request lost before it
reached the API (2 POSTs), a 503 (2 POSTs). Each VM ends with exactly one snapshot.
"""


from run_ansible import run_play

SNAPSHOTS = "/api/v4/machine_snapshots"
NAME = "before-kill"
WORLD = {
    "speed": 100,
    "vms": [
        {"name": "answerlost01", "key": 1, "power": "running"},
        {"name": "requestlost01", "key": 2, "power": "running"},
        {"name": "busy01", "key": 3, "power": "running"},
    ],
}
CASES = {
    "answerlost01": {"kind": "drop", "applied": True},
    "requestlost01": {"kind": "drop", "applied": False},
    "busy01": {"kind": "error", "status": 503},
}


def fault_task(sim, fault):
    """A task that installs one fault on the next POST machine_snapshots (the test-support API needs no credentials)."""
    return {"name": "Install fault %s" % fault, "ansible.builtin.uri": {
        "url": sim.url + "/_sim/faults", "method": "POST", "ca_path": sim.ca, "body_format": "json",
        "body": {"faults": [dict(fault, method="POST", path=SNAPSHOTS, count=1)]}}}


def snapshot_task(vm):
    return {"name": "Snapshot %s" % vm, "register": vm,
            "vergeos.power.vergeos_vm_snapshot": {"name": vm, "snapshot_name": NAME, "expires": 3600, "visible_grace": 1}}


def test_a_snapshot_survives_a_lost_answer_a_lost_request_and_a_503_without_being_taken_twice(world, tmp_path):
    sim = world
    sim.load(WORLD)
    tasks = []
    for vm, fault in CASES.items():
        tasks += [fault_task(sim, fault), snapshot_task(vm)]
    tasks.append({"name": "Read every snapshot straight from the API", "register": "final", "ansible.builtin.uri": {
        "url": sim.url + SNAPSHOTS + "?fields=%24key,name,machine", "ca_path": sim.ca, "url_username": "admin",
        "url_password": "admin", "force_basic_auth": True}})
    result, log, kept = run_play(sim, tmp_path, tasks, keep=[*CASES, "final"])
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Traceback" not in result.stdout + result.stderr

    machines = {vm: kept[vm]["machine"] for vm in CASES}
    for vm in CASES:
        assert kept[vm]["changed"] is True and kept[vm]["failed"] is False, kept[vm]
        assert kept[vm]["snapshot"]["name"] == NAME and kept[vm]["snapshot"]["id"] is not None
    assert "not sent again" in kept["answerlost01"]["msg"]
    assert "acknowledged at send 2" in kept["requestlost01"]["msg"]
    assert "acknowledged at send 2" in kept["busy01"]["msg"]

    api = [entry for entry in log if entry["path"].startswith(SNAPSHOTS)]
    posts = {vm: [entry for entry in api if entry["method"] == "POST" and entry["body"]["machine"] == machine]
             for vm, machine in machines.items()}
    assert [entry["status"] for entry in posts["answerlost01"]] == [None]
    assert posts["answerlost01"][0]["fault"]["applied"] is True
    assert [entry["status"] for entry in posts["requestlost01"]] == [None, 201]
    assert posts["requestlost01"][0]["fault"]["applied"] is False
    assert [entry["status"] for entry in posts["busy01"]] == [503, 201]

    # Before each second send, the VM's snapshots were read back (and did not show the snapshot).
    for vm in ("requestlost01", "busy01"):
        first, second = (api.index(entry) for entry in posts[vm])
        between = api[first + 1:second]
        assert between and all(entry["method"] == "GET" and str(machines[vm]) in str(entry["query"].get("filter")) for entry in between)

    final = kept["final"]["json"]
    for vm, machine in machines.items():
        assert [row["name"] for row in final if row["machine"] == machine] == [NAME], (vm, final)
