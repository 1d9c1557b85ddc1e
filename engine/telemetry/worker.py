"""The worker class of the app (Faust's `Worker` setting): LOG_LEVEL wins over `-l`; JSON logs say everything.

Faust's CLI takes the level from `-l` (default WARN) and ignores the environment; here LOG_LEVEL,
when set, is the level. With LOG_FORMAT=json the worker's own terminal output (the spinner's
"OK", warnings, an uncaught exception) goes through logging too, so every line is JSON; run the
CLI with `--quiet` so that it does not print its banner table (the worker logs it instead).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import faust

__all__ = ["LedgerWorker"]

log = logging.getLogger(__name__)


class LedgerWorker(faust.Worker):
    def __init__(self, app, *services: Any, loglevel=None, logging_config=None, **kwargs: Any) -> None:
        if os.environ.get("LOG_LEVEL"):
            loglevel = app.log_level
        self._json_logs = bool(app.conf.logging_config)
        if self._json_logs and loglevel:
            # The handler's level comes from the config; keep it in step with the level chosen here.
            logging_config = _with_level(dict(app.conf.logging_config), str(loglevel))
        super().__init__(app, *services, loglevel=loglevel, logging_config=logging_config, **kwargs)

    def _setup_logging(self) -> None:
        super()._setup_logging()
        if self._json_logs:
            logging.captureWarnings(True)
            sys.excepthook = _log_uncaught

    def say(self, msg: str) -> None:
        if self._json_logs:
            if msg.strip():
                log.info(msg.strip())
        else:
            super().say(msg)

    def carp(self, msg: str) -> None:
        if self._json_logs:
            if msg.strip():
                log.warning(msg.strip())
        else:
            super().carp(msg)

    async def on_first_start(self) -> None:
        await super().on_first_start()  # sets up logging
        log.info("Worker %s starting: web %s, data %s", self.app.conf.id, self.app.conf.canonical_url,
                 self.app.conf.datadir)


def _with_level(config: dict, level: str) -> dict:
    config["handlers"] = {name: {**handler, "level": level.upper()} for name, handler in config["handlers"].items()}
    config["root"] = {**config["root"], "level": level.upper()}
    return config


def _log_uncaught(kind, value, traceback) -> None:
    logging.getLogger("ledgerstream").critical("Uncaught %s", kind.__name__, exc_info=(kind, value, traceback))
