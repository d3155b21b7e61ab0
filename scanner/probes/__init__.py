"""I/O for challenge tests: one module per transport, each exchange returns a scanner.challenge.Probe."""
from __future__ import annotations

import socket


def read_exact(sock: socket.socket, n: int) -> bytes:
    """Up to ``n`` bytes: fewer only when the peer closed the connection first."""
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)
