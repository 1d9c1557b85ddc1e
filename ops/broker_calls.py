"""The commands' calls to the broker, each bounded in time and failing with one sentence that says what to do."""

from __future__ import annotations

import asyncio
from typing import Awaitable, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaError

__all__ = ["BrokerError", "guarded"]

T = TypeVar("T")


class BrokerError(Exception):
    """A problem the user can act on; its message is one sentence saying what to do."""


async def guarded(awaitable: Awaitable[T], bootstrap: str, timeout: float) -> T:
    """`awaitable`'s result, or BrokerError when the broker at `bootstrap` does not answer in `timeout` s or refuses."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except (KafkaConnectionError, OSError, asyncio.TimeoutError):
        raise BrokerError(f"Cannot reach the broker at {bootstrap}; start it (`make up`) or point "
                          "KAFKA_BOOTSTRAP or --bootstrap at it.") from None
    except KafkaError as exc:
        raise BrokerError(f"The broker at {bootstrap} refused the request ({type(exc).__name__}); "
                          "check that it runs and try again.") from None
