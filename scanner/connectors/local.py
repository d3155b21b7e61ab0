"""Run shell scripts on this machine: the transport behind ``connection: local``.

The script always travels on stdin to ``sh -s``, never in an argument list, so nothing it contains shows
up in ``ps``. With ``become=True`` and no root, the same script goes through sudo exactly as over SSH
(``scanner.connectors.become``): the password from ``become_password_env`` travels on stdin, never in argv.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import IO, Any

from scanner.connectors import CommandResult, ConnectorError
from scanner.connectors.become import SHELL, sudo_command, unwrap_sudo
from scanner.model import Target

#: Default bound on the stdout kept from one command; stderr is kept to a smaller bound.
DEFAULT_LIMIT = 8 * 1024 * 1024
STDERR_LIMIT = 64 * 1024
_CHUNK = 65536


class _BoundedReader(threading.Thread):
    """Drain a pipe to its end, keeping at most ``limit`` bytes (so the writer never blocks)."""

    def __init__(self, pipe: IO[bytes], limit: int):
        super().__init__(daemon=True)
        self.pipe, self.limit = pipe, limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.truncated = False

    def run(self) -> None:
        try:
            while chunk := self.pipe.read1(_CHUNK):  # type: ignore[attr-defined]
                room = self.limit - self.kept
                if room > 0:
                    self.chunks.append(chunk[:room])
                    self.kept += min(room, len(chunk))
                if len(chunk) > room:
                    self.truncated = True
        except (OSError, ValueError):
            pass

    def data(self) -> bytes:
        return b"".join(self.chunks)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


class LocalConnector:
    """A ShellConnector for the machine gxpscan runs on."""

    def __init__(self, target: Target):
        self.target = target

    def __enter__(self) -> LocalConnector:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    @property
    def is_root(self) -> bool:
        return os.geteuid() == 0

    def run(self, script: str, *, timeout: float, become: bool = False,
            limit: int = DEFAULT_LIMIT) -> CommandResult:
        command, prefix = sudo_command(self.target, self.is_root, "this machine") if become else (SHELL, b"")
        argv = ["sh", "-s"] if command == SHELL else ["sh", "-c", command]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise ConnectorError(f"cannot start {argv[0]}: {exc.strerror}") from None
        assert proc.stdin and proc.stdout and proc.stderr
        out, err = _BoundedReader(proc.stdout, limit), _BoundedReader(proc.stderr, STDERR_LIMIT)
        feeder = threading.Thread(target=_feed, args=(proc.stdin, prefix + script.encode()), daemon=True)
        for t in (out, err, feeder):
            t.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill(proc)
        out.join(timeout=5)
        err.join(timeout=5)
        feeder.join(timeout=5)
        result = CommandResult(
            exit_code=None if timed_out else proc.returncode,
            stdout=out.data(), stderr=err.data(), timed_out=timed_out, truncated=out.truncated)
        return result if command == SHELL else unwrap_sudo(result, "this machine")

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait()
