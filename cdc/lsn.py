"""PostgreSQL WAL positions (LSNs): the integer Debezium writes and the text PostgreSQL shows ("16/B374D848")."""

from __future__ import annotations

__all__ = ["format_lsn", "parse_lsn", "MAX_LSN"]

MAX_LSN = 2**64 - 1


def format_lsn(lsn: int) -> str:
    """The text form of `pg_current_wal_lsn()`: high 32 bits / low 32 bits, upper-case hex."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """An LSN in PostgreSQL's text form (hex/hex, each part at most 8 digits); ValueError otherwise."""
    high, sep, low = text.partition("/")
    if (not sep or not 1 <= len(high) <= 8 or not 1 <= len(low) <= 8
            or not all(c in "0123456789abcdefABCDEF" for c in high + low)):
        raise ValueError(f"{text!r} is not an LSN such as 16/B374D848")
    return (int(high, 16) << 32) | int(low, 16)
