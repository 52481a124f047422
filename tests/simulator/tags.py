"""The tags room: tag categories, tags and their members, writable as VergeOS's are (the vendor SDK adds and removes them).

The scenario's categories and tags are inserted at load (a category's
`taggable_vms` as scenario.taggable_categories says), a VM's tags when the
fleet room adds it. Writes answer as README.md ("The VergeOS API served",
switches `duplicate_name` and `taggable_vms`) freezes.
"""

from tables import EPOCH, KeyAllocator, as_key
from wire import ApiError, missing

IN_USE = "This name is already in use"
NOT_PERMITTED = "Operation not permitted"


def category_row(key, category):
    return {"$key": key, "name": category["name"], "description": category.get("description", ""),
            "taggable_vms": category.get("taggable_vms", False), "single_tag_selection": category.get("single_tag_selection", False),
            "created": EPOCH, "modified": EPOCH}


def tag_row(key, tag, category_key):
    return {"$key": key, "name": tag["name"], "description": tag.get("description", ""), "category": category_key,
            "created": EPOCH, "modified": EPOCH}


def _text(body, field, required=True):
    value = body.get(field, None if required else "")
    if not isinstance(value, str) or (required and not value):
        raise ApiError(422, "field '%s' is required and must be a non-empty string" % field)
    return value


def _flag(body, field):
    """Return a boolean field of a body (absent: None), or raise 422."""
    value = body.get(field)
    if value is not None and not isinstance(value, bool):
        raise ApiError(422, "field '%s' must be true or false" % field)
    return value


class Tags:
    """Tag categories, tags and tag members of one world (rows kept in the tables room)."""

    def __init__(self, store, switches):
        self.store = store
        self.rows = store.rows
        self.duplicate_status = switches["duplicate_name"]
        self.taggable_enforced = switches["taggable_vms"] == "enforced"
        self.tag_keys = {}  # the scenario's tag names -> keys (a VM's `tags` at load)
        self._member_keys = KeyAllocator(1)

    def load(self, categories, tags, taggable):
        """Insert the scenario's categories (taggable: the names whose `taggable_vms` is true) and tags."""
        keys = self.store.build_named("tag_categories", categories,
                                      lambda key, category: category_row(key, dict(category, taggable_vms=category["name"] in taggable)))
        self.tag_keys = self.store.build_named("tags", tags, lambda key, tag: tag_row(key, tag, keys[tag["category"]]))

    def tag_at_load(self, vm_key, tag_name):
        """Put one of the scenario's tags on a VM being added."""
        key = self._member_keys.allocate()
        self.store.insert("tag_members", {"$key": key, "tag": self.tag_keys[tag_name], "member": "vms/%d" % vm_key})

    def _in_use(self, old_message):
        """Return the refusal of a name (or tag and member) in use: 422 in VergeOS's words, or (switch duplicate_name) the old 409."""
        if self.duplicate_status == 422:
            return ApiError(422, IN_USE)
        return ApiError(409, old_message)

    def create_category(self, body, now):
        """Carry out POST tag_categories; return the new key (a name in use: switch duplicate_name)."""
        name = _text(body, "name")
        if any(row["name"] == name for row in self.rows["tag_categories"].values()):
            raise self._in_use("a tag category named %s exists" % name)
        fields = {"name": name, "description": _text(body, "description", required=False)}
        for flag in ("taggable_vms", "single_tag_selection"):
            fields[flag] = bool(_flag(body, flag))
        key = self.store.next_key("tag_categories")
        row = category_row(key, fields)
        row["created"] = row["modified"] = int(now)
        self.store.insert("tag_categories", row)
        return key

    def update_category(self, key, body, now):
        """Carry out PUT tag_categories/<key>: name, description, taggable_vms, single_tag_selection (any of them)."""
        row = self.rows["tag_categories"].get(key)
        if row is None:
            raise missing("tag_categories", key, "put")
        changes = {field: _text(body, field, required=field == "name") for field in ("name", "description") if field in body}
        for flag in ("taggable_vms", "single_tag_selection"):
            if body.get(flag) is not None:
                changes[flag] = _flag(body, flag)
        name = changes.get("name")
        if name is not None and any(other["name"] == name and other_key != key for other_key, other in self.rows["tag_categories"].items()):
            raise self._in_use("a tag category named %s exists" % name)
        row.update(changes, modified=int(now))

    def create_tag(self, body, now):
        """Carry out POST tags; return the new key (422 for an unknown category; a name in use in it: switch duplicate_name)."""
        name = _text(body, "name")
        category = as_key(body.get("category"))
        if category not in self.rows["tag_categories"]:
            raise ApiError(422, "field 'category' must be the key of a tag category")
        if any(row["name"] == name and row["category"] == category for row in self.rows["tags"].values()):
            raise self._in_use("a tag named %s exists in that category" % name)
        key = self.store.next_key("tags")
        row = tag_row(key, {"name": name, "description": _text(body, "description", required=False)}, category)
        row["created"] = row["modified"] = int(now)
        self.store.insert("tags", row)
        return key

    def update_tag(self, key, body, now):
        """Carry out PUT tags/<key>: its name and description may change (404 for no such tag)."""
        row = self.rows["tags"].get(key)
        if row is None:
            raise missing("tags", key, "put")
        changes = {field: _text(body, field, required=field == "name") for field in ("name", "description") if field in body}
        row.update(changes, modified=int(now))

    def delete_tag(self, key):
        """Carry out DELETE tags/<key>, its members with it (404 for no such tag)."""
        if self.rows["tags"].pop(key, None) is None:
            raise missing("tags", key, "delete")
        members = self.rows["tag_members"]
        for member_key in [member for member, row in members.items() if row["tag"] == key]:
            del members[member_key]

    def create_member(self, body):
        """Carry out POST tag_members (member "vms/<VM key>"); return the new key.

        422 for a bad tag or member; 422 Operation not permitted when the tag's category cannot tag VMs (switch
        taggable_vms); the same tag and member again: switch duplicate_name.
        """
        tag = as_key(body.get("tag"))
        if tag not in self.rows["tags"]:
            raise ApiError(422, "field 'tag' must be the key of a tag")
        member = body.get("member")
        vm_key = as_key(member[len("vms/"):]) if isinstance(member, str) and member.startswith("vms/") else None
        if vm_key not in self.rows["vms"]:
            raise ApiError(422, "field 'member' must be vms/<key of a VM>")
        category = self.rows["tag_categories"].get(self.rows["tags"][tag]["category"])
        if self.taggable_enforced and not (category or {}).get("taggable_vms"):
            raise ApiError(422, NOT_PERMITTED)
        member = "vms/%d" % vm_key
        if any(row["tag"] == tag and row["member"] == member for row in self.rows["tag_members"].values()):
            raise self._in_use("%s already carries that tag" % member)
        key = self._member_keys.allocate()
        self.store.insert("tag_members", {"$key": key, "tag": tag, "member": member})
        return key

    def delete_member(self, key):
        if self.rows["tag_members"].pop(key, None) is None:
            raise missing("tag_members", key, "delete")
