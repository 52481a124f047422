"""The tags room (tags.py), in this process: categories, tags and members, and the switches that shape their refusals."""

import pytest

from room_helpers import NOW, world_of
from tags import IN_USE, NOT_PERMITTED
from wire import ApiError

WORLD = {"tag_categories": [{"name": "env"}, {"name": "plain"}], "tags": [{"name": "prod", "category": "env"}],
         "vms": [{"name": "web", "key": 7, "tags": ["prod"]}]}


def _refusal(call):
    with pytest.raises(ApiError) as refused:
        call()
    return refused.value.code, refused.value.message


def test_the_scenarios_tags_are_loaded_with_their_members():
    world = world_of(WORLD)
    rows = world.tables
    assert {row["name"]: row["taggable_vms"] for row in rows["tag_categories"].values()} == {"env": True, "plain": False}
    assert [(row["tag"], row["member"]) for row in rows["tag_members"].values()] == [(world.tags.tag_keys["prod"], "vms/7")]


def test_names_in_use_are_refused_as_the_switch_says():
    tags = world_of(WORLD).tags
    assert _refusal(lambda: tags.create_category({"name": "env"}, NOW)) == (422, IN_USE)
    old = world_of(dict(WORLD, switches={"duplicate_name": 409})).tags
    assert _refusal(lambda: old.create_category({"name": "env"}, NOW)) == (409, "a tag category named env exists")
    key = tags.create_category({"name": "new", "taggable_vms": True}, NOW)
    assert _refusal(lambda: tags.update_category(key, {"name": "env"}, NOW)) == (422, IN_USE)
    tags.update_category(key, {"name": "newer", "single_tag_selection": True}, NOW)
    assert tags.rows["tag_categories"][key]["name"] == "newer"
    assert _refusal(lambda: tags.create_category({"name": "x", "taggable_vms": "yes"}, NOW))[0] == 422


def test_members_need_a_taggable_category_unless_ignored():
    world = world_of(WORLD)
    plain = world.tags.create_tag({"name": "p", "category": "2"}, NOW)  # a key as a numeric string
    assert _refusal(lambda: world.tags.create_member({"tag": plain, "member": "vms/7"})) == (422, NOT_PERMITTED)
    ignored = world_of(dict(WORLD, switches={"taggable_vms": "ignored"})).tags
    tag = ignored.create_tag({"name": "p", "category": 2}, NOW)
    assert ignored.create_member({"tag": tag, "member": "vms/7"}) == 2  # after the scenario's member
    assert _refusal(lambda: ignored.create_member({"tag": tag, "member": "vms/7"})) == (422, IN_USE)
    assert _refusal(lambda: ignored.create_member({"tag": tag, "member": "vms/99"}))[0] == 422


def test_a_deleted_tag_takes_its_members_with_it():
    world = world_of(WORLD)
    world.tags.delete_tag(world.tags.tag_keys["prod"])
    assert world.tables["tag_members"] == {}
    assert _refusal(lambda: world.tags.delete_tag(1))[0] == 404
    assert _refusal(lambda: world.tags.delete_member(1))[0] == 404
