"""A hostile SSH server cannot make the weak-algorithm challenges pass: one that hangs up after every client KEXINIT
(so every weak algorithm would look refused) fails the control negotiation, and the result is error, never pass."""
from __future__ import annotations

import socket
import threading

from checks.linux.challenge_ssh import ssh_weak_ciphers_refused
from scanner.challenge import challenge_spec_of, run_challenge
from scanner.model import Status
from scanner.probes.ssh import _packet, kexinit_payload
from tests.factories import make_target

LISTS = (("curve25519-sha256",), ("ssh-ed25519",), ("aes128-ctr", "3des-cbc"), ("aes128-ctr", "3des-cbc"),
         ("hmac-sha2-256",), ("hmac-sha2-256",), ("none",), ("none",), (), ())


def serve_hang_ups(listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"SSH-2.0-OpenSSH_9.9\r\n" + _packet(kexinit_payload(LISTS)))
            conn.recv(65536)  # the client's banner and KEXINIT: then hang up, whatever it offered


def test_a_server_that_hangs_up_on_everything_is_an_error_not_a_pass():
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=serve_hang_ups, args=(listener,), daemon=True).start()
    try:
        target = make_target("hostile", connection="ssh", host="127.0.0.1", port=listener.getsockname()[1],
                             connect_timeout=3)
        out = run_challenge(challenge_spec_of(ssh_weak_ciphers_refused), target)
    finally:
        listener.close()
    assert [f.status for f in out.findings] == [Status.ERROR]
    assert out.steps[0].action.endswith("(control)") and out.steps[0].ok is not True
    assert "control negotiation did not succeed" in out.findings[0].message
