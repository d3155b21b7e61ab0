"""The facts of a scan's code targets (``type: iac``) collected in a second process while gxpscan starts.

A scan of code spends about a third of its time importing its modules, reading its inventory and loading its
checks before it collects, and about a third collecting (reading, parsing and evaluating the code): both CPU work,
one after the other. On a machine with two CPUs or more, ``start`` forks, before the command's modules are
imported, a child that reads the inventory the command line names (``scan --inventory FILE``, ``scan --iac
PATH...``) and collects every fact the code collector provides for each code target, in the inventory's order,
while the parent goes on as usual. When the runner asks for a code target's facts (``Prefetch.collect``), the
parent takes the child's only if the child's target is the very target being scanned (equal in every field: name,
options, policy, groups, tags, GxP context: what a collection depends on, with the files), and otherwise collects
them itself, exactly as without a child. A child that failed, died, was slow to start or read another inventory
costs its CPU and nothing else: the parent's own collection is the fallback, never an error.

The child sends, through a pipe made before the fork, the code targets it will collect, then each target and its
facts as ``collect_facts`` gives them, pickled as it goes; the parent unpickles only gxpscan's own types and
``datetime`` (``unpickler_of``), so not even its own child can make it call anything else, and takes only
``Fact`` values. The evidence carries the time the child collected it, and the run's start is the time of the fork
(``Prefetch.started``), so every piece of evidence lies within the run.

Only when gxpscan is its process's program (the ``gxpscan`` script or ``python -m scanner``), the command line
names code (``--iac``, or an inventory file that declares a ``type: iac`` target), on Linux, with two CPUs or
more to run on (affinity and control group quota), no thread started yet, and ``GXPSCAN_PREFETCH`` not ``0``.
The child writes nothing but the pipe (its standard streams are ``/dev/null``) and reads only what the parent
would read. The parent ends the child (``SIGKILL``: it holds nothing to clean up) and waits for it when the command
ends, whichever way it ends; a child whose parent was killed ends at its next write to the pipe.

This module is imported before anything else of the command: it imports only ``os`` and ``sys`` up front.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import pickle
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime
    from types import MappingProxyType

    from scanner.connectors import ProcessScope
    from scanner.model import Fact, Target

#: ``0`` turns the child off (anything else, or unset: on where it can help).
ENV = "GXPSCAN_PREFETCH"
#: Options of ``scan`` with which a child would collect for nothing: no local collection follows (help, a remote
#: executor, the plan of challenge tests).
_NOTHING_COLLECTED = frozenset({"-h", "--help", "--executor", "--plan"})
#: The most of an inventory file read to see whether it declares a code target.
_INVENTORY_BYTES = 4 * 1024 * 1024


def source_of(argv: Sequence[str]) -> tuple[str, Any] | None:
    """The inventory a ``gxpscan`` command line (without the program name) would scan: ``("inventory", FILE)``,
    ``("iac", [PATH, ...])``, or None when it is no such scan or when a child could not help. A guess on the raw
    words (no abbreviations, the last of a repeated option): a wrong guess only makes a child whose targets are
    not the scan's, whose facts the parent then does not take."""
    i = 0
    while i < len(argv) and argv[i].startswith("--log-level"):  # the one option before the command
        i += 1 if "=" in argv[i] else 2
    if i >= len(argv) or argv[i] != "scan":
        return None
    inventory: str | None = None
    paths: list[str] | None = None
    i += 1
    while i < len(argv):
        word = argv[i]
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if word == "--" or name in _NOTHING_COLLECTED:
            return None
        if name in ("--inventory", "-i"):
            if not eq and i + 1 < len(argv):
                i += 1
                value = argv[i]
            inventory = value or None
        elif name == "--iac":
            paths = [value] if eq else []
            while not eq and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                paths.append(argv[i])
        i += 1
    if paths and inventory is None:
        return "iac", paths
    if inventory and paths is None:
        return "inventory", inventory
    return None


def program_is_gxpscan() -> bool:
    """This process's program is gxpscan: ``python -m scanner``, or a script whose ``main`` is
    ``scanner.__main__.main`` (the ``gxpscan`` console script), not a program that imported or ran it."""
    program = sys.modules.get("__main__")
    spec = getattr(program, "__spec__", None)
    launcher = sys.modules.get("scanner.__main__")
    return (getattr(spec, "name", None) == "scanner.__main__"
            or (launcher is not None and getattr(program, "main", None) is launcher.main))


def can_fork(environ: Mapping[str, str]) -> bool:
    """A child can run beside this process: Linux, two CPUs or more for this process (its affinity and its control
    group's quota), no thread (a fork copies only the calling thread, and whatever lock another one held stays
    held in the child), not turned off."""
    if environ.get(ENV, "") == "0" or not sys.platform.startswith("linux"):
        return False
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return False
    quota = cpu_quota()
    return len(os.sched_getaffinity(0)) >= 2 and (quota is None or quota >= 2)


def cpu_quota(cgroups: str | None = None, root: str = "/sys/fs/cgroup") -> float | None:
    """The CPUs this process's control group may use (``cpu.max`` of cgroup v2, ``cpu.cfs_quota_us`` over
    ``cpu.cfs_period_us`` of v1), None when unlimited or unknown: a container limited to one CPU on a machine of
    many is given every CPU by ``sched_getaffinity``, and a child would only take the parent's time.
    ``cgroups``: the text of ``/proc/self/cgroup`` (read when not given)."""
    try:
        if cgroups is None:
            with open("/proc/self/cgroup", encoding="utf-8", errors="replace") as fh:
                cgroups = fh.read(65536)
    except OSError:
        return None
    for line in cgroups.split("\n"):
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        path = path.rstrip("/")
        try:
            if controllers == "" and line:  # v2: "0::/path" (a hybrid system's has no cpu.max: the v1 line tells)
                quota, period = (_small(f"{root}{path}/cpu.max").split() + ["", ""])[:2]
                return None if quota == "max" else int(quota) / int(period)
            if "cpu" in controllers.split(","):
                folder = f"{root}/{controllers}{path}"
                quota = _small(f"{folder}/cpu.cfs_quota_us").strip()
                return None if int(quota) < 0 else int(quota) / int(_small(f"{folder}/cpu.cfs_period_us"))
        except OSError:
            continue
        except (ValueError, ZeroDivisionError):
            return None
    return None


def _small(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as fh:
        return fh.read(100)


def start(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> Prefetch | None:
    """A child collecting the code targets of the scan ``argv`` names, when gxpscan is the program and a child can
    help; else None."""
    source = source_of(argv)
    if source is None or not program_is_gxpscan() or not can_fork(environ) or not _has_code(source):
        return None
    # what both processes run, imported once before the fork: the child starts collecting at once
    import scanner.collectors.iac
    import scanner.inventory  # noqa: F401
    return fork_collector(source)


def _has_code(source: tuple[str, Any]) -> bool:
    """``--iac``, or an inventory file whose text declares a code target (``type: iac``, ``"type": "iac"``): a scan of
    other targets only would pay for the child's imports and fork, and have no use for it. Read as the parent will
    read it (bounded); a declaration this misses (one in a YAML alias) only means no child."""
    if source[0] == "iac":
        return True
    import re

    try:
        with open(source[1], "rb") as fh:
            text = fh.read(_INVENTORY_BYTES)
    except OSError:
        return False
    return re.search(rb"""\btype["']?\s*:\s*["']?iac\b""", text) is not None


def fork_collector(source: tuple[str, Any]) -> Prefetch | None:
    """Fork the child that collects the code targets of ``source`` (see ``source_of``); None when no process can
    be made."""
    import time

    started = time.time()
    read_end, write_end = os.pipe()  # neither is inherited by a program either process starts
    try:
        pid = os.fork()
    except OSError:  # no process to be had (a limit reached): the scan collects by itself
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:
        os.close(read_end)
        _child(source, write_end)
    os.close(write_end)
    return Prefetch(pid, read_end, started)


def _child(source: tuple[str, Any], out: int) -> NoReturn:
    """The child: collect and send, then end without running anything of the parent's (exit handlers, buffered
    output). Whatever goes wrong ends it; the parent then collects by itself."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        _send_facts(source, out)
        code = 0
    except BaseException:  # noqa: BLE001,S110 - an interrupted or failed child only means the parent collects
        pass
    finally:
        os._exit(code)


def _send_facts(source: tuple[str, Any], out: int) -> None:
    from scanner.collectors import collect_facts, known_facts
    from scanner.inventory import load_inventory
    from scanner.model import Platform

    if source[0] == "iac":
        from scanner.iacscope import iac_document

        inventory = load_inventory(iac_document(source[1]))
    else:
        inventory = load_inventory(source[1])
    names = sorted(known_facts([Platform.IAC]))
    code = tuple(t for t in inventory.targets if t.type is Platform.IAC)
    with os.fdopen(out, "wb") as pipe:
        pickler = pickler_to(pipe)  # one pickler: its memo goes on from one value to the next, as the parent's
        pickler.dump(code)  # what will come, then each target's facts
        pipe.flush()
        for target in code:
            pickler.dump((target, collect_facts(target, names)))
            pipe.flush()


def _proxy(plain: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    """A read-only mapping again (the facts' mappings are ``MappingProxyType``, which pickle cannot name)."""
    from types import MappingProxyType

    return MappingProxyType(plain)


def pickler_to(file: Any) -> pickle.Pickler:
    """A pickler of targets and facts into ``file``: read-only mappings as ``_proxy`` of their plain copy. It
    writes as it goes (frames of some 64 KiB), so the parent unpickles while the child still pickles."""
    import copyreg
    import pickle
    from types import MappingProxyType

    pickler = pickle.Pickler(file, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: lambda m: (_proxy, (m.copy(),))}
    return pickler


def unpickler_of(file: Any) -> pickle.Unpickler:
    """An unpickler of what ``pickler_to`` wrote into ``file``: any name outside gxpscan's modules and ``datetime``
    (or a dunder name) is refused (``pickle.UnpicklingError``) instead of looked up."""
    import pickle

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            ours = module == "scanner" or module.startswith("scanner.") or module == "datetime"
            if ours and not name.startswith("__"):
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"{module}.{name} is not a type of facts")

    return Unpickler(file)


class Prefetch:
    """The parent's end of a child started by ``fork_collector``: the facts it sent, read when first asked for."""

    def __init__(self, pid: int, fd: int, started: float):
        import threading

        #: the child's process id (0: none to end, as after ``end``)
        self.pid = pid
        #: when the child was started (seconds since the epoch): the run's start
        self.started = started
        self._pipe: Any = os.fdopen(fd, "rb")
        self._unpickler = unpickler_of(self._pipe)
        self._coming: tuple[Target, ...] | None = None  # the child's code targets, from its first frame
        self._sent: list[tuple[Target, dict[str, Fact]]] = []
        self._lock = threading.Lock()  # the runner's threads may ask at once

    def started_at(self) -> datetime:
        from datetime import datetime, timezone

        return datetime.fromtimestamp(self.started, timezone.utc)

    def facts(self, target: Target) -> dict[str, Fact] | None:
        """The child's facts of ``target`` (given once), waiting for them if need be; None at once when the child
        will send none for it (its inventory has no such target), and when it ended or failed before."""
        with self._lock:
            if self._coming is None:
                coming = self._receive()
                self._coming = coming if isinstance(coming, tuple) else ()
            if target not in self._coming:
                return None
            while True:
                for i, (sent, facts) in enumerate(self._sent):
                    if sent == target:
                        del self._sent[i]
                        return facts
                got = self._receive()
                if not (isinstance(got, tuple) and len(got) == 2 and isinstance(got[1], dict)):
                    self._close()
                    return None
                self._sent.append(got)

    def _receive(self) -> Any:
        """The child's next value; None at the end (the pipe then closed) or when it is not one of ours."""
        if self._pipe is None:
            return None
        try:
            return self._unpickler.load()
        except Exception:  # noqa: BLE001 - the end, or what does not unpickle as ours: the parent collects
            self._close()
            return None

    def collect(self, target: Target, names: Iterable[str], scope: ProcessScope | None = None) -> dict[str, Fact]:
        """``scanner.runner.collect_facts``: the child's facts of ``target`` when it sent every one asked for, else
        collected here."""
        import logging

        from scanner.collectors import collect_facts
        from scanner.model import Fact, Platform

        wanted = sorted(set(names))
        sent = self.facts(target) if target.type is Platform.IAC and wanted else None
        if sent is not None and all(type(sent.get(n)) is Fact for n in wanted):
            logging.getLogger(__name__).debug("target %s: facts collected by the child process %d", target.name,
                                              self.pid)
            return {n: sent[n] for n in wanted}
        return collect_facts(target, wanted, scope)

    def _close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def end(self) -> None:
        """End the child if it is still at work, wait for it, and close the pipe. Idempotent."""
        import signal

        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)  # not yet waited for: the id is still the child's
            except ProcessLookupError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:  # waited for by someone else (a SIGCHLD handler of a host program)
                pass
            self.pid = 0
        with self._lock:
            self._close()
