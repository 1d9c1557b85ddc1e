"""watch_heartbeats: every worker follows the connector's heartbeats to know how far its views reflect the ledger."""

from __future__ import annotations

from app import app
from cdc.heartbeat import heartbeat_of
from engine.checkpoints import HeartbeatWatch
from settings import load_settings
from topics import CDC_TOPICS, HEARTBEATS

__all__ = ["watch_heartbeats"]


@app.task
async def watch_heartbeats() -> None:
    """Reads ledger.message (the connector's heartbeats) from its end; checkpoints app.source_positions."""
    settings = load_settings()
    watch = HeartbeatWatch(app, topic=HEARTBEATS.name, source_topics=[t.name for t in CDC_TOPICS],
                           heartbeat_of=heartbeat_of, idle_interval_s=settings.source_checkpoint_idle_ms / 1000)
    await watch.run(settings.kafka_bootstrap, probe_end_offsets=settings.broker_end_offsets_probe)
