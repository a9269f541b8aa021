"""Text folding and Cyrillic/Latin search keys: the code lives in `db.text`, the bottom layer,
because the directory's text search (db/directory_repo.py) compares the same keys."""

from __future__ import annotations

from db.text import (  # noqa: F401
    edits1,
    edits2_cheap,
    fold,
    key_variants,
    keys_for_names,
    squeeze_doubles,
    to_latin,
)
