"""A change record's key against its row: state lives under the key, so they must name the same row."""

from __future__ import annotations

from typing import Any

from cdc.changes import Change, DecodeError

__all__ = ["check_key_is_row_id"]


def check_key_is_row_id(change: Change, key: Any, table: str, column: str = "id") -> None:
    """Raise DecodeError when a row image of `change` has another `column` than `key`.

    Debezium keys accounts and customers by their id; a record keyed otherwise would be stored
    under the wrong row (and in the wrong partition), showing one account's balance as another's.
    """
    for image in (change.after, change.before):
        if image is not None and column in image and image[column] != key:
            raise DecodeError(f"{table} change keyed {key!r} is of the row with {column} {image[column]!r}; "
                              f"a record's key must be its row's {column}")
