"""Run shell scripts on this machine: the transport behind ``connection: local``.

The script always travels on stdin to ``sh -s``, never in an argument list, so nothing it contains shows
up in ``ps``. With ``become=True`` and no root, the same script goes through sudo exactly as over SSH
(``scanner.connectors.become``): the password from ``become_password_env`` travels on stdin, never in argv,
and is tried once.

Every command runs in its own session (so a Ctrl-C on the terminal reaches the scanner, not the probes), is
registered with the scan's ``ProcessScope`` (so an interrupted scan ends it) and gets an environment with only
the variables a shell needs: no secret the operator exported for gxpscan reaches a probe's environment.
"""
from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping
from typing import IO, Any

from scanner.connectors import CommandResult, ConnectorError, ProcessScope, terminate_group
from scanner.connectors.become import SHELL, SUDO_BEGIN, SUDO_READY, sudo_command, unwrap_sudo
from scanner.model import Target

#: Default bound on the stdout kept from one command; stderr is kept to a smaller bound.
DEFAULT_LIMIT = 8 * 1024 * 1024
STDERR_LIMIT = 64 * 1024
_CHUNK = 65536
#: Variables a probe's shell may inherit; everything else (tokens, passwords, cloud keys) stays with gxpscan.
ENV_KEEP = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR"})


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a probe: the allow-listed variables and the locale ones (LC_*)."""
    return {k: v for k, v in environ.items() if k in ENV_KEEP or k.startswith("LC_")}


class _BoundedReader(threading.Thread):
    """Drain a pipe to its end, keeping at most ``limit`` bytes (so the writer never blocks)."""

    def __init__(self, pipe: IO[bytes], limit: int):
        super().__init__(daemon=True)
        self.pipe, self.limit = pipe, limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.truncated = False
        self.started = threading.Event()  # set once the first len(SUDO_READY) bytes are in, or at the end

    def run(self) -> None:
        try:
            while chunk := self.pipe.read1(_CHUNK):  # type: ignore[attr-defined]
                room = self.limit - self.kept
                if room > 0:
                    self.chunks.append(chunk[:room])
                    self.kept += min(room, len(chunk))
                if len(chunk) > room:
                    self.truncated = True
                if self.kept >= len(SUDO_READY):
                    self.started.set()
        except (OSError, ValueError):
            pass
        finally:
            self.started.set()

    def data(self) -> bytes:
        return b"".join(self.chunks)


def _feed(pipe: IO[bytes], first: bytes, rest: bytes, gate: _BoundedReader | None, timeout: float) -> None:
    """Write ``first``; with a gate, send ``rest`` only once the command printed SUDO_READY (sudo let it run)."""
    try:
        pipe.write(first)
        pipe.flush()
        if gate is not None:
            gate.started.wait(timeout)
            if not gate.data().startswith(SUDO_READY):
                return
        pipe.write(rest)
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


class LocalConnector:
    """A ShellConnector for the machine gxpscan runs on."""

    def __init__(self, target: Target, scope: ProcessScope | None = None):
        self.target = target
        self.scope = scope or ProcessScope()

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
        if self.scope.cancelled.is_set():
            raise ConnectorError("the scan was interrupted; nothing more is started")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, env=child_environment(os.environ))
        except OSError as exc:
            raise ConnectorError(f"cannot start {argv[0]}: {exc.strerror}") from None
        if not self.scope.add(proc.pid):  # interrupted while it started
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            terminate_group(proc.pid, self.scope.grace, reap=proc)
            proc.wait()
            raise ConnectorError("the scan was interrupted; nothing more is started")
        try:
            return self._finish(proc, command, prefix, script, timeout, limit)
        finally:
            self.scope.discard(proc.pid)

    def _finish(self, proc: subprocess.Popen[bytes], command: str, prefix: bytes, script: str, timeout: float,
                limit: int) -> CommandResult:
        assert proc.stdin and proc.stdout and proc.stderr
        out, err = _BoundedReader(proc.stdout, limit), _BoundedReader(proc.stderr, STDERR_LIMIT)
        if command == SHELL:
            first, rest, gate = script.encode("utf-8", "surrogateescape"), b"", None
        else:
            first, rest, gate = prefix, SUDO_BEGIN + script.encode("utf-8", "surrogateescape"), out
        feeder = threading.Thread(target=_feed, args=(proc.stdin, first, rest, gate, timeout), daemon=True)
        for t in (out, err, feeder):
            t.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            terminate_group(proc.pid, self.scope.grace, reap=proc)
            proc.wait()
        out.join(timeout=5)
        err.join(timeout=5)
        feeder.join(timeout=5)
        result = CommandResult(
            exit_code=None if timed_out else proc.returncode,
            stdout=out.data(), stderr=err.data(), timed_out=timed_out, truncated=out.truncated)
        return result if command == SHELL else unwrap_sudo(result, "this machine")
