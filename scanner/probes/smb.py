"""SMB probe for challenge tests: is the SMB1 dialect still negotiated?

One SMB1 NEGOTIATE request over direct TCP (port 445, a 4-byte session header) offering the single SMB1 dialect
``NT LM 0.12`` ([MS-CIFS] 2.2.4.52). A server with SMB1 on answers an SMB1 NEGOTIATE response selecting dialect 0;
a server without SMB1 closes the connection or answers with dialect index 0xFFFF (none acceptable). Nothing is
authenticated: no session is set up, no credential is sent.
"""
from __future__ import annotations

import socket
import struct

from scanner.challenge import Probe
from scanner.probes import read_exact

SMB_PORT = 445
RESPONSE_LIMIT = 64 * 1024
SMB1_MAGIC = b"\xffSMB"
SMB2_MAGIC = b"\xfeSMB"
NEGOTIATE = 0x72
NO_DIALECT = 0xFFFF


def smb1_negotiate_request(dialects: tuple[str, ...] = ("NT LM 0.12",)) -> bytes:
    """The NetBIOS-framed SMB1 NEGOTIATE request offering ``dialects``."""
    header = (SMB1_MAGIC + bytes([NEGOTIATE]) + b"\x00\x00\x00\x00"  # command, status
              + b"\x18" + struct.pack("<H", 0xC853)  # flags (case-insensitive paths), flags2 (unicode, NT status, ...)
              + b"\x00\x00" + b"\x00" * 8 + b"\x00\x00"  # PID high, security features, reserved
              + struct.pack("<HHHH", 0xFFFF, 0xFEFF, 0, 0))  # TID, PID, UID, MID
    names = b"".join(b"\x02" + d.encode("ascii") + b"\x00" for d in dialects)
    message = header + b"\x00" + struct.pack("<H", len(names)) + names  # WordCount 0, ByteCount, dialects
    return struct.pack("!I", len(message)) + message


def smb1_probe(host: str, port: int, timeout: float) -> Probe:
    """ok when SMB1 is refused (closed, reset, no acceptable dialect, or an SMB2 answer)."""
    request = smb1_negotiate_request()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        try:
            header = read_exact(sock, 4)
            length = struct.unpack("!I", header)[0] & 0x00FFFFFF if len(header) == 4 else 0
            body = read_exact(sock, min(length, RESPONSE_LIMIT))
        except ConnectionResetError:
            return Probe(True, "refused: the server reset the connection", request, b"")
    received = header + body
    if not received:
        return Probe(True, "refused: the server closed the connection without answering", request, received)
    if body[:4] == SMB2_MAGIC:
        return Probe(True, "refused: the server answered in SMB2", request, received)
    if body[:4] != SMB1_MAGIC or len(body) < 35 or body[4] != NEGOTIATE:
        return Probe(None, "the answer is not an SMB NEGOTIATE response", request, received)
    status = struct.unpack("<I", body[5:9])[0]
    dialect = struct.unpack("<H", body[33:35])[0] if body[32] >= 1 else NO_DIALECT
    if status != 0 or dialect == NO_DIALECT:
        return Probe(True, f"refused: no dialect selected (status 0x{status:08x})", request, received)
    return Probe(False, "accepted: the server selected SMB1 dialect NT LM 0.12", request, received)
