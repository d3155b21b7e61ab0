"""RDP probe for challenge tests: does the server insist on Network Level Authentication (CredSSP)?

One X.224 Connection Request (in a TPKT) whose RDP Negotiation Request offers PROTOCOL_SSL only ([MS-RDPBCGR]
2.2.1.1). A server that requires NLA answers an RDP Negotiation Failure with HYBRID_REQUIRED_BY_SERVER; one that
accepts TLS without NLA answers an RDP Negotiation Response selecting PROTOCOL_SSL; an old server that answers no
negotiation structure at all allows standard RDP security (no NLA either). The probe stops after the Connection
Confirm: no TLS, no credential.
"""
from __future__ import annotations

import socket
import struct

from scanner.challenge import Probe
from scanner.probes import read_exact

RDP_PORT = 3389
PROTOCOL_RDP, PROTOCOL_SSL, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX = 0, 1, 2, 8
NEG_RSP, NEG_FAILURE = 0x02, 0x03
FAILURES = {1: "SSL_REQUIRED_BY_SERVER", 2: "SSL_NOT_ALLOWED_BY_SERVER", 3: "SSL_CERT_NOT_ON_SERVER",
            4: "INCONSISTENT_FLAGS", 5: "HYBRID_REQUIRED_BY_SERVER", 6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER"}
PROTOCOLS = {PROTOCOL_RDP: "standard RDP security", PROTOCOL_SSL: "TLS", PROTOCOL_HYBRID: "CredSSP (NLA)",
             PROTOCOL_HYBRID_EX: "CredSSP with early user authorization"}
TPKT_LIMIT = 1024


def connection_request(requested: int = PROTOCOL_SSL) -> bytes:
    """TPKT + X.224 Connection Request + RDP_NEG_REQ asking for ``requested``."""
    neg = struct.pack("<BBHI", 0x01, 0, 8, requested)
    x224 = bytes([6 + len(neg), 0xE0]) + b"\x00\x00" + b"\x00\x00" + b"\x00" + neg  # LI, CR, DST-REF, SRC-REF, class
    return struct.pack("!BBH", 3, 0, 4 + len(x224)) + x224


def nla_probe(host: str, port: int, timeout: float) -> Probe:
    """ok when the server refuses a TLS-only connection because it requires NLA."""
    request = connection_request(PROTOCOL_SSL)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        try:
            header = read_exact(sock, 4)
            length = struct.unpack("!H", header[2:4])[0] if len(header) == 4 and header[0] == 3 else 0
            body = read_exact(sock, min(max(length - 4, 0), TPKT_LIMIT))
        except ConnectionResetError:
            return Probe(None, "the server reset the connection without an answer", request, b"")
    received = header + body
    if len(body) < 7 or body[1] & 0xF0 != 0xD0:
        return Probe(None, "the answer is not an X.224 Connection Confirm", request, received)
    neg = body[7:]
    if len(neg) < 8:
        return Probe(False, "accepted: the server answered without negotiation (standard RDP security, no NLA)",
                     request, received)
    kind, value = neg[0], struct.unpack("<I", neg[4:8])[0]
    if kind == NEG_FAILURE:
        name = FAILURES.get(value, f"failure code {value}")
        return Probe(value == 5, f"refused: RDP negotiation failure {name}", request, received)
    if kind == NEG_RSP:
        return Probe(False, f"accepted: the server selected {PROTOCOLS.get(value, f'protocol {value}')} "
                            "without NLA", request, received)
    return Probe(None, f"the negotiation answer has unknown type {kind}", request, received)
