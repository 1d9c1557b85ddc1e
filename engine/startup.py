"""The worker's start order: web views first, then the broker, waited for instead of crashed on.

Faust 0.15.3 starts its producer before anything else and exits at once when the broker cannot
be reached ("Unable to bootstrap from ..."), without ever serving /health: a worker started
before its broker crash-loops under a supervisor and says nothing useful meanwhile. Here the
web server starts first, then `BrokerProbe` waits (with backoff, stoppable by a signal) until
the broker answers a metadata request, and only then do the producer, consumer, agents and
tables start. Afterwards the probe keeps checking, so /health says "broker unreachable" during
an outage too (Faust's clients ride an outage out on their own and catch up after it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Iterable, List, Optional, Tuple

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from faust.app.base import BootStrategy
from mode import Service

__all__ = ["BrokerProbe", "LedgerBootStrategy", "bootstrap_hosts", "probe_broker"]

log = logging.getLogger(__name__)

#: How long one probe may take, and the waits between probes while the broker is away.
PROBE_TIMEOUT = 5.0
FIRST_RETRY, MAX_RETRY = 0.5, 5.0
#: While the broker answers, how often to check that it still does.
CHECK_INTERVAL = 5.0
#: While waiting, how often to repeat the warning in the log.
WARN_EVERY = 30.0


def bootstrap_hosts(bootstrap: str) -> List[Tuple[str, int]]:
    """host:port[,host:port] (an optional kafka:// prefix allowed) as (host, port) pairs."""
    hosts = []
    for part in bootstrap.split(","):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        if not part:
            continue
        host, _, port = part.rpartition(":")
        if not host:
            host, port = port, "9092"
        hosts.append((host.strip("[]"), int(port)))
    return hosts


async def probe_broker(bootstrap: str, *, timeout: float = PROBE_TIMEOUT) -> Optional[str]:
    """None when a broker answers a metadata request; otherwise why not, in a few words."""
    reachable = False
    for host, port in bootstrap_hosts(bootstrap):
        # A plain connect first: aiokafka logs an ERROR for every refused bootstrap attempt.
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, asyncio.TimeoutError):
            continue
        writer.close()
        reachable = True
        break
    if not reachable:
        return f"nothing accepts connections at {bootstrap}"
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000),
                            client_id="ledgerstream-broker-probe")
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return None
    except asyncio.TimeoutError:
        return f"no answer from {bootstrap} within {timeout:.0f} s"
    except (KafkaError, OSError) as exc:
        return f"{bootstrap} does not answer as a Kafka broker ({type(exc).__name__})"
    finally:
        await client.close()


class BrokerProbe(Service):
    """Starts once the broker answers (the services after it need it); then keeps watching it."""

    def __init__(self, bootstrap: str, **kwargs) -> None:
        self.bootstrap = bootstrap
        #: None while the broker answers; otherwise why it does not (shown on /health).
        self.unreachable: Optional[str] = "not checked yet"
        #: Whether the broker answered once: the services after this one then started.
        self.answered = False
        super().__init__(**kwargs)

    @property
    def reachable(self) -> bool:
        return self.unreachable is None

    async def on_start(self) -> None:
        retry, waited, warned_at = FIRST_RETRY, 0.0, None
        while not self.should_stop:
            self.unreachable = await probe_broker(self.bootstrap)
            if self.unreachable is None:
                self.answered = True
                if warned_at is not None:
                    log.info("Broker at %s answers; starting the pipeline.", self.bootstrap)
                return
            if warned_at is None or waited - warned_at >= WARN_EVERY:
                log.warning("Broker unreachable (%s); waiting for it, /health says not-ready meanwhile.",
                            self.unreachable)
                warned_at = waited
            await self.sleep(retry)
            waited += retry
            retry = min(retry * 2, MAX_RETRY)

    @Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            await self.sleep(CHECK_INTERVAL)
            if self.should_stop:
                break
            reason = await probe_broker(self.bootstrap)
            if reason is not None and self.unreachable is None:
                log.warning("Broker unreachable (%s); the worker's clients retry until it is back.", reason)
            elif reason is None and self.unreachable is not None:
                log.info("Broker at %s answers again.", self.bootstrap)
            self.unreachable = reason


class LedgerBootStrategy(BootStrategy):
    """Faust's server start order, with the web views first and the broker probe before Kafka."""

    def server(self) -> Iterable:
        return self._chain(
            self.sensors(),
            self.web_server(),
            [self.app.broker_probe],
            self.kafka_producer(),
            self.kafka_consumer(),
            self.agents(),
            self.kafka_conductor(),
            self.tables(),
        )
