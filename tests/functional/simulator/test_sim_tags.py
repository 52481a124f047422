"""Tags are writable, as on VergeOS: categories, tags and their members created, renamed, deleted; errors as VergeOS gives them."""

import pytest

from sim_helpers import ok_json, rows

WORLD = {
    "speed": 100,
    "users": [{"name": "admin", "password": "admin"}, {"name": "viewer", "password": "v", "role": "readonly"}],
    "tag_categories": [{"name": "environment"}],
    "tags": [{"name": "production", "category": "environment"}],
    "vms": [{"name": "web01", "key": 1, "tags": ["production"]}, {"name": "db01", "key": 2}],
}


@pytest.fixture
def tags(world):
    world.load(WORLD)
    return world


def post(sim, table, body, status=201, auth=("admin", "admin")):
    return ok_json(sim.api("POST", "/api/v4/" + table, json=body, auth=auth), status)


def test_a_category_a_tag_and_members_round_trip(tags):
    category = post(tags, "tag_categories", {"name": "vergeos.power", "description": "records", "taggable_vms": True})["$key"]
    tag = post(tags, "tags", {"name": "maintenance-1", "category": category, "description": '{"state": "open"}'})["$key"]
    member = post(tags, "tag_members", {"tag": tag, "member": "vms/2"})["$key"]
    post(tags, "tag_members", {"tag": str(tag), "member": "vms/1"})  # keys may come as strings, as receipts carry them
    found = rows(tags, "tag_members", filter="tag eq %s" % tag, fields="member,tag#name as tag_name,tag#category#name as category_name")
    assert sorted(row["member"] for row in found) == ["vms/1", "vms/2"]
    assert {row["category_name"] for row in found} == {"vergeos.power"}

    assert tags.api("PUT", "/api/v4/tags/%s" % tag, json={"description": '{"state": "closed"}'}).status_code == 200
    assert rows(tags, "tags", filter="$key eq %s" % tag, fields="name,description")[0]["description"] == '{"state": "closed"}'

    assert tags.api("DELETE", "/api/v4/tag_members/%s" % member).status_code == 200
    assert [row["member"] for row in rows(tags, "tag_members", filter="tag eq %s" % tag, fields="member")] == ["vms/1"]
    assert tags.api("DELETE", "/api/v4/tags/%s" % tag).status_code == 200
    assert rows(tags, "tag_members", filter="tag eq %s" % tag, fields="member") == []  # the members went with the tag
    assert rows(tags, "tags", filter="$key eq %s" % tag, fields="name") == []


@pytest.mark.parametrize("table, body, status", [
    ("tag_categories", {"name": "environment"}, 422),
    ("tag_categories", {}, 422),
    ("tags", {"name": "production", "category": 1}, 422),
    ("tags", {"name": "x", "category": 99}, 422),
    ("tag_members", {"tag": 1, "member": "vms/1"}, 422),
    ("tag_members", {"tag": 1, "member": "vms/99"}, 422),
    ("tag_members", {"tag": 1, "member": "vnets/1"}, 422),
    ("tag_members", {"tag": 99, "member": "vms/2"}, 422),
])
def test_bad_tag_writes_are_refused_and_change_nothing(tags, table, body, status):
    before = rows(tags, table, fields="$key")
    response = tags.api("POST", "/api/v4/" + table, json=body)
    assert response.status_code == status and response.json()["err"]
    assert rows(tags, table, fields="$key") == before


def test_a_read_only_user_cannot_write_tags_and_missing_keys_are_404(tags):
    response = tags.api("POST", "/api/v4/tags", json={"name": "x", "category": 1}, auth=("viewer", "v"))
    assert response.status_code == 403
    assert tags.api("DELETE", "/api/v4/tags/99").status_code == 404
    assert tags.api("PUT", "/api/v4/tags/99", json={"description": "x"}).status_code == 404
    assert tags.api("DELETE", "/api/v4/tag_members/99").status_code == 404
    assert tags.api("PUT", "/api/v4/tag_members/1", json={}).status_code == 405
