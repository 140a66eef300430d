"""A node's REST front served by uvicorn on loopback, in a background thread, or by hand from the shell.

Rules:
1. ``Server(node)`` has uvicorn listen on ``127.0.0.1`` (port 0: the OS chooses); ``start()`` returns
   once uvicorn serves, with ``url`` naming the port it got, and raises ``ServerFailed`` if it does
   not serve within ``timeout`` seconds. (uvicorn binds the socket itself: on a socket handed to it,
   each response waited ~40 ms for a delayed ACK.)
2. uvicorn runs its own event loop in the server thread; the node is only ever called from that
   loop (the node's asyncio lock binds to the loop that first takes it), so nothing else may call the
   node while the server runs.
3. ``stop()`` asks uvicorn to exit and joins the thread; ``close()`` also closes the node. Both are
   idempotent. As a context manager, a ``Server`` is started on entry and stopped on exit (the node
   stays open: its owner closes it).
4. ``main()``: ``python -m persistent.server --data DIR --port N --mode atomic|faithful --quota BYTES``
   opens the node at ``DIR`` and serves it in the foreground until interrupted.

Mirrors: codex-sales-spec §5 (the REST API is the node's public surface), §1.4 (``--storage-quota``).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence
from types import TracebackType

import uvicorn

from persistent.http import make_app
from persistent.node import DEFAULT_QUOTA, Node, NodeError

HOST = "127.0.0.1"


class ServerFailed(RuntimeError):
    """uvicorn did not start serving (rule 1)."""


class Server:
    """A node's REST front in a background thread (module rules)."""

    def __init__(self, node: Node, *, port: int = 0, log_level: str = "warning") -> None:
        self.node = node
        self.port = port
        config = uvicorn.Config(
            make_app(node), host=HOST, port=port, log_level=log_level, lifespan="off", access_log=False
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base every endpoint path is appended to."""
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 10.0) -> Server:
        """Serve in a thread, and return once uvicorn serves (rule 1)."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._uvicorn.run, name="codex-rest", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(f"uvicorn did not start serving on {self.url} within {timeout} s")
            time.sleep(0.005)
        self.port = self._uvicorn.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and join its thread (rule 3)."""
        if self._thread is not None:
            self._uvicorn.should_exit = True
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """``stop()``, then close the node."""
        self.stop()
        self.node.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a node from the command line until interrupted (rule 4)."""
    parser = argparse.ArgumentParser(prog="python -m persistent.server", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the node's data directory (created if missing)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port on 127.0.0.1 (0: the OS chooses)")
    parser.add_argument("--mode", choices=["atomic", "faithful"], default="atomic", help="datastore write mode")
    parser.add_argument("--quota", type=int, default=DEFAULT_QUOTA, help="quotaMaxBytes of the repo")
    parser.add_argument("--log", help="append the node's chronicles JSON log here (for `sales-model logs check`)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    if args.quota < 0:
        parser.error(f"--quota must be a number of bytes >= 0, got {args.quota}")
    try:
        node = Node(args.data, mode=args.mode, quota_max_bytes=args.quota, log_path=args.log)
    except (NodeError, OSError) as error:
        parser.exit(2, f"python -m persistent.server: {error}\n")
    config = uvicorn.Config(make_app(node), host=HOST, port=args.port, lifespan="off")
    try:
        uvicorn.Server(config).run()
    finally:
        node.close()


if __name__ == "__main__":
    main()
