"""Messages between the supervisor and its probe worker: length-prefixed pickles over a pipe.

Only our own dataclasses (ProbeRequest, ProbeResult and tuples of plain values) travel here,
between two processes of ours. Nothing read from a model file is ever pickled or unpickled.
"""

from __future__ import annotations

import os
import pickle
import struct
from typing import Any

HEADER = struct.Struct("!Q")


class ChannelClosed(Exception):
    """The other end closed the pipe (it exited or was killed)."""


def send(fd: int, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise ChannelClosed
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> Any:
    """Block until one whole message has arrived; ChannelClosed at end of file."""
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size))
    return pickle.loads(_read_exactly(fd, size))
