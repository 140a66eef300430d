"""Chronicles-style JSON log lines, as a nim-codex node writes with ``--log-format=json``.

Rules:
1. One JSON object per line: ``lvl`` (``TRC``, ``DBG``, ``INF``, ``WRN``, ``ERR``), ``ts``,
   ``msg``, ``topics``, ``tid``, then the line's properties, in the order nim-codex's
   ``trace``/``warn`` call and its ``logScope`` give them.
2. Messages and property names are nim-codex's own (codex/sales/reservations.nim,
   codex/stores/repostore/store.nim), so ``sales-model logs check`` reads this node's log as it
   reads a real node's. UInt256 values are logged as decimal strings, ids as ``0x`` hex.
3. A ``Log`` without a path keeps its lines in memory (``lines``); with a path it appends them
   to that file and flushes every line, so a crash loses nothing written before it.

Mirrors: codex-sales-spec §2 (what each operation logs, via oracle/logs.py rule 1-9).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

RESERVATIONS = "marketplace sales reservations"
RELEASE = "release"
REPOSTORE = "codex repostore"


class Log:
    """Where the node's chronicles lines go (rule 3)."""

    def __init__(self, path: Path | str | None = None, *, clock: Any = time.time) -> None:
        self.path = None if path is None else Path(path)
        self.lines: list[str] = []
        self._clock = clock
        self._file: IO[str] | None = None
        if self.path is not None:
            self._file = self.path.open("a", encoding="utf-8")

    def _timestamp(self) -> str:
        now = self._clock()
        seconds = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
        return f"{seconds}.{int(now * 1000) % 1000:03d}+00:00"

    def line(self, level: str, msg: str, topics: str = RESERVATIONS, **properties: Any) -> None:
        """Write one line (rule 1)."""
        record = {"lvl": level, "ts": self._timestamp(), "msg": msg, "topics": topics, "tid": 1, **properties}
        text = json.dumps(record)
        if self._file is not None:
            self._file.write(text + "\n")
            self._file.flush()
        else:
            self.lines.append(text)

    def trace(self, msg: str, topics: str = RESERVATIONS, **properties: Any) -> None:
        self.line("TRC", msg, topics, **properties)

    def failed(self, msg: str, topics: str = RESERVATIONS, **properties: Any) -> None:
        self.line("WRN", msg, topics, **properties)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
