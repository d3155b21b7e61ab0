"""An RDP negotiation responder for the RDP challenge tests: no RDP server runs on Linux, so the tests bring this.

It reads one X.224 Connection Request and answers the Connection Confirm a Windows host would ([MS-RDPBCGR]
2.2.1.2): ``nla`` (NLA required: RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER when only TLS is offered), ``tls``
(RDP_NEG_RSP selecting TLS: NLA not required), ``legacy`` (a Connection Confirm without negotiation: standard RDP
security) or ``garbage`` (not X.224). It never goes further than the Connection Confirm.
"""
from __future__ import annotations

import socket
import struct

from tests.lab.tlslab import _Listener

PROTOCOL_SSL, PROTOCOL_HYBRID = 1, 2


def _confirm(neg: bytes) -> bytes:
    x224 = bytes([6 + len(neg), 0xD0]) + b"\x00\x00" + b"\x12\x34" + b"\x00" + neg
    return struct.pack("!BBH", 3, 0, 4 + len(x224)) + x224


class RdpResponder(_Listener):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.requests: list[bytes] = []

    def serve(self, conn: socket.socket) -> None:
        header = conn.recv(4, socket.MSG_WAITALL)
        body = conn.recv(struct.unpack("!H", header[2:4])[0] - 4, socket.MSG_WAITALL)
        self.requests.append(header + body)
        requested = struct.unpack("<I", body[-4:])[0]
        if self.mode == "garbage":
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        elif self.mode == "legacy":
            conn.sendall(_confirm(b""))
        elif self.mode == "nla" and not requested & PROTOCOL_HYBRID:
            conn.sendall(_confirm(struct.pack("<BBHI", 0x03, 0, 8, 5)))  # HYBRID_REQUIRED_BY_SERVER
        else:
            chosen = PROTOCOL_HYBRID if requested & PROTOCOL_HYBRID else PROTOCOL_SSL
            conn.sendall(_confirm(struct.pack("<BBHI", 0x02, 0, 8, chosen)))
