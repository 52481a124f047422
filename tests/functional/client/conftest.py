"""Make ``ansible_collections.vergeos.power`` importable for the client tests (tests/functional/collection_finder.py)."""

import collection_finder  # noqa: F401  pylint: disable=unused-import
