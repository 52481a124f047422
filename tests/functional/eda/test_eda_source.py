"""The event source run in-process (its ``main(queue, args)``, loaded as ansible-rulebook loads it) against the simulator.

Judged by the simulator's request log, by counting and ordering, never by wall time: the source
reads nothing but whole paged listings of the 5,000 watched VMs, one at a time, and each read is
ONE listing (plus one request for the tags and up to three for the records when asked), the events a change
gives, a system that cannot be read and comes back, refused credentials. The pace (a read every
interval, from the start of the one before) is the fake-clock unit tests' (tests/unit/plugins/event_source).
Run with -s to see the per-poll figures that docs/performance.md quotes.
"""

import asyncio
import base64
import itertools
import logging
import statistics
import time

from eda_helpers import listing_starts

USER, PASSWORD = "eda", "Eda-S3cret-pw"
VM_COUNT = 5000
PAGE = 500
# The listing reads pages until one comes back short: 5,000 VMs in pages of 500 take 10 full pages and an empty one.
PAGES = VM_COUNT // PAGE + 1
INTERVAL = 1.0


def connection(sim, password=PASSWORD):
    return {"host": sim.host, "username": USER, "password": password, "ca_path": sim.ca}


def run_source(source, args, until, timeout=60, returned=None):
    """Run the source's main until ``until()`` holds (checked every 0.1 s) or it returns; return its events.

    ``returned``: a list that gets True when the source's main returned by itself (it was not cancelled).
    """
    async def go():
        queue = asyncio.Queue()
        task = asyncio.create_task(source["main"](queue, args))
        deadline = time.monotonic() + timeout
        while not task.done() and not await asyncio.to_thread(until) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        finished = task.done()
        if returned is not None:
            returned.append(finished)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert finished or time.monotonic() < deadline, "the source neither returned nor reached the expected state in %g s" % timeout
        events = []
        while not queue.empty():
            events.append(queue.get_nowait()["vergeos_power"])
        return events
    return asyncio.run(go())


def listings(log):
    """Return the VM listings of a request log: one list of entries per listing (its pages in order)."""
    found = []
    for entry in log:
        if entry["method"] == "GET" and entry["path"] == "/api/v4/vms":
            if entry in listing_starts([entry]):
                found.append([])
            found[-1].append(entry)
    return found


def world(count=VM_COUNT, **extra):
    return dict({"speed": 100, "users": [{"name": "admin", "password": "admin"}, {"name": USER, "password": PASSWORD}],
                 "generate": {"count": count, "running_ratio": 0.5}}, **extra)


def first_running(sim):
    rows = sim.api("GET", "/api/v4/vms", params={"fields": "$key,name,machine#status#status as status", "limit": 10}).json()
    return next(row for row in rows if row["status"] == "running")


def test_one_listing_per_interval_for_5000_vms(sim, source):
    sim.load(world())
    target = first_running(sim)
    sim.clear_requests()
    stopped = []

    def until():
        done = listings(sim.requests())
        if len(done) >= 2 and not stopped:
            # Behind the source's back, after its first reads: one VM stopped.
            stopped.append(sim.api("POST", "/api/v4/vm_actions", json={"vm": target["$key"], "action": "poweroff"}).status_code)
        return len(done) >= 5 and len(done[-1]) == PAGES

    try:
        events = run_source(source, dict(connection(sim), interval=INTERVAL), until)
        log = sim.requests()
    finally:
        sim.reset()

    assert stopped == [201]
    # The source's requests (its own user; the stop was sent as admin, another client).
    log = [entry for entry in log if entry["user"] == USER]
    reads = listings(log)
    # Every request of the source is a page of a listing of every VM: nothing else is read.
    assert [entry for entry in log if entry["path"] != "/api/v4/vms" or entry["method"] != "GET"] == []
    for pages in reads[:-1]:
        assert [int(page["query"]["offset"]) for page in pages] == list(range(0, VM_COUNT + 1, PAGE))
        assert all(int(page["query"]["limit"]) == PAGE and page["status"] == 200 for page in pages)
    # Whole listings, one at a time: listings() groups the log in its order, so two reads overlapping would mix their offsets
    # in the check above, and a read asking for anything else would show in the check before it. (That a read is ONE listing
    # is the next test's: it counts each read's requests.)
    starts = [pages[0]["time"] for pages in reads]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    durations = [pages[-1]["time"] - pages[0]["time"] for pages in reads]
    # Only the stopped VM gives events: no baseline, nothing for the 4,999 others.
    assert {(event["type"], event["vm"]["id"]) for event in events} <= {("changed", target["$key"])}, events
    assert [event["previous"]["power_state"] for event in events][:1] == ["running"], events
    assert events[-1]["vm"]["power_state"] == "stopped", events
    durations = durations[:-1]
    print("\n5,000 VMs: %d listings, %d requests each; listing %.3f s median (%.3f-%.3f), one every %.3f s median"
          % (len(reads), len(reads[0]), statistics.median(durations), min(durations), max(durations), statistics.median(gaps)))


def test_per_poll_cost_for_5000_vms_with_tags_and_maintenance_records(sim, source):
    """The read of one poll, timed on its own (client, listing, tags, records) and the pure change detection beside it."""
    sim.load(world(tag_categories=[{"name": "vergeos_power_maintenance"}],
                   tags=[{"name": "rack7", "category": "vergeos_power_maintenance", "description": "{}"}],
                   vms=[{"name": "held-1", "power": "stopped", "tags": ["rack7"]}]))
    settings = source["parse_options"](dict(connection(sim), include_tags=True, include_maintenance=True))
    client = source["argspec"].client_from_params(settings.connection)
    watch = source["PowerWatch"](300, 60)
    record_tag = next(row["$key"] for row in sim.api("GET", "/api/v4/tags", params={"fields": "$key,name"}).json() if row["name"] == "rack7")

    def timed(poll, rounds=3):
        """Return (views, [(wall seconds, CPU seconds of this process) per read], [seconds of change detection], the reads' log)."""
        reads, detections, log = [], [], []
        for number in range(rounds):
            # The world changes before every read (as VMs do), so the simulator serves no answer it encoded before.
            sim.api("PUT", "/api/v4/tags/%d" % record_tag, json={"description": "round %d" % number})
            sim.clear_requests()
            started, cpu = time.perf_counter(), time.process_time()
            views = poll()
            reads.append((time.perf_counter() - started, time.process_time() - cpu))
            log.extend(sim.requests())
            started = time.perf_counter()
            watch.observe(views, time.time())
            detections.append(time.perf_counter() - started)
        return views, reads, detections, log

    try:
        bare_views, bare, bare_detections, bare_log = timed(source["Poller"](source["parse_options"](connection(sim)), client))
        views, full, detections, log = timed(source["Poller"](settings, client))
    finally:
        client.close()
        sim.reset()

    assert len(views) == len(bare_views) == VM_COUNT + 1
    held = [view for view in views if view["under_maintenance"]]
    assert [(view["name"], view["maintenance_records"], view["tags"]) for view in held] == [("held-1", ["rack7"], ["rack7"])]
    per_poll = len(log) // 3
    paths = [entry["path"] for entry in log[:per_poll]]
    # The listing (11 pages for 5,001 VMs), the tags, and the records: the category, its tags, their members.
    assert paths == ["/api/v4/vms"] * 11 + ["/api/v4/tag_members", "/api/v4/tag_categories", "/api/v4/tags", "/api/v4/tag_members"], paths
    assert len(log) == 3 * per_poll and [entry["path"] for entry in bare_log] == ["/api/v4/vms"] * 33

    def median(pairs, index):
        return statistics.median(pair[index] for pair in pairs)
    figures = (median(bare, 0), median(bare, 1), len(bare_log) // 3, median(full, 0), median(full, 1), per_poll,
               statistics.median(bare_detections + detections))
    print("\n5,001 VMs, per poll (medians of 3): listing only %.3f s, %.3f s CPU of the source (%d requests); with tags and records "
          "%.3f s, %.3f s CPU (%d requests); change detection %.4f s" % figures)


def test_a_system_that_cannot_be_read_gives_one_event_and_one_when_it_is_back(sim_faults, source, caplog):
    sim = sim_faults
    sim.load(world(count=20))
    sim.clear_requests()
    phases = []

    def until():
        log = sim.requests()
        failed = [entry for entry in log if entry["status"] == 403]
        worked = [entry for entry in log if entry["status"] == 200]
        if not phases and worked:
            # A proxy that refuses every listing from now on (a 403 is not retried by the client: each read fails at once).
            sim.add_faults({"method": "GET", "path": "/api/v4/vms", "kind": "error", "status": 403, "message": "Forbidden by proxy"})
            phases.append(len(worked))
        elif len(phases) == 1 and len(failed) >= 8:
            sim.clear_faults()
            phases.append(len(worked))
        # Two reads after the proxy let go.
        return len(phases) == 2 and len(worked) >= phases[1] + 2

    caplog.set_level(logging.DEBUG, logger="vergeos.power.vm_power_events")
    try:
        events = run_source(source, dict(connection(sim), interval=0.2, unreachable_after=0.5, max_retry_delay=0.2), until)
        log = sim.requests()
    finally:
        sim.reset()

    failed = [entry for entry in log if entry["status"] == 403]
    assert len(failed) >= 8
    kinds = [event["type"] for event in events]
    assert kinds == ["unreachable", "reachable"], events
    down, back = events
    assert "Forbidden by proxy" in down["error"] and "HTTP 403" in down["error"]
    assert down["unreadable_for"] >= 0.5 and back["unreadable_for"] >= down["unreadable_for"]
    assert "Traceback" not in caplog.text
    for secret in (PASSWORD, base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()):
        assert secret not in caplog.text and secret not in repr(events)


def test_refused_credentials_stop_the_source_after_one_event_and_one_request(sim, source, caplog):
    sim.load(world(count=5))
    sim.clear_requests()
    caplog.set_level(logging.DEBUG, logger="vergeos.power.vm_power_events")
    wrong = "Wr0ng-" + PASSWORD
    returned = []
    try:
        events = run_source(source, dict(connection(sim, password=wrong), interval=0.2), lambda: False, timeout=30, returned=returned)
        log = sim.requests()
    finally:
        sim.reset()

    assert returned == [True], "the source went on after HTTP 401"
    assert [(entry["method"], entry["path"], entry["status"]) for entry in log] == [("GET", "/api/v4/vms", 401)]
    assert [event["type"] for event in events] == ["source_failed"]
    assert "HTTP 401" in events[0]["error"]
    assert "Traceback" not in caplog.text
    for secret in (wrong, base64.b64encode(("%s:%s" % (USER, wrong)).encode()).decode()):
        assert secret not in caplog.text and secret not in repr(events)


def test_invalid_options_stop_the_source_with_one_event_that_names_them(source, caplog):
    secret = "Never-Sh0wn-pw"
    base = {"host": "vergeos.example.com", "username": "u", "password": secret}
    caplog.set_level(logging.DEBUG, logger="vergeos.power.vm_power_events")
    for bad, word in (({"interval": "soon"}, "interval"), ({"filters": {"power_state": ["running"]}}, "filters.power_state"),
                      ({"colour": "blue"}, "colour"), ({"ca_path": "/nonexistent/ca.pem"}, "ca_path")):
        events = run_source(source, dict(base, **bad), lambda: False, timeout=10)
        assert [event["type"] for event in events] == ["source_failed"], bad
        assert word in events[0]["error"], events
    assert secret not in caplog.text and secret not in repr(events)
    assert "Traceback" not in caplog.text
