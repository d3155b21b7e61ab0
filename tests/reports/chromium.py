"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages ending
in NUL on file descriptors 3 and 4), so no port is opened and no websocket library is needed.

:func:`load` opens one local HTML file and returns what the page did: every network request, console message,
log entry and uncaught exception, the rendered text, and a PNG screenshot of the whole page.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--remote-debugging-pipe")


def _high(fd: int) -> int:
    """The descriptor moved to 10 or above (close-on-exec), so the child's 3 and 4 cannot collide with it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def _log(profile: str) -> int:
    return os.open(os.path.join(profile, "stderr.log"), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)


def available() -> bool:
    return shutil.which(CHROMIUM) is not None


@dataclass(frozen=True)
class PageLoad:
    requests: tuple[str, ...]  # URLs the page asked for (the page itself included)
    console: tuple[str, ...]  # console messages, log entries and exceptions: "level: text"
    text: str  # document.body.innerText
    screenshot: bytes  # PNG
    width: int
    height: int


class _Pipe:
    def __init__(self, proc: subprocess.Popen[bytes], write_fd: int, read_fd: int):
        self.proc, self.write_fd, self.read_fd = proc, write_fd, read_fd
        self.next_id = 0
        self.buffer = b""
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.write_fd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(deadline))


def _console(events: list[dict[str, Any]]) -> tuple[str, ...]:
    out = []
    for e in events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.consoleAPICalled":
            out.append(f"{p.get('type')}: " + " ".join(str(a.get("value", a.get("description", "")))
                                                       for a in p.get("args", [])))
        elif e.get("method") == "Log.entryAdded":
            out.append(f"{p['entry'].get('level')}: {p['entry'].get('text')}")
        elif e.get("method") == "Runtime.exceptionThrown":
            out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
    return tuple(out)


def load(page: Path, width: int = 1280) -> PageLoad:
    """Open ``page`` (a local file) in a fresh headless Chromium and return what happened."""
    with tempfile.TemporaryDirectory(prefix="gxpscan-chromium-") as profile:
        to_chrome_r, to_chrome_w = (_high(fd) for fd in os.pipe())
        from_chrome_r, from_chrome_w = (_high(fd) for fd in os.pipe())
        # a small trampoline puts our pipe ends on descriptors 3 and 4 (they are 10 or above: nothing is clobbered)
        trampoline = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
                      "os.close(int(sys.argv[1])); os.close(int(sys.argv[2])); os.execv(sys.argv[3], sys.argv[3:])")
        proc = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(to_chrome_r), str(from_chrome_w), CHROMIUM, *FLAGS,
             f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=_log(profile),
            pass_fds=(to_chrome_r, from_chrome_w))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        pipe = _Pipe(proc, to_chrome_w, from_chrome_r)
        try:
            target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
            session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Network", "Runtime", "Log"):
                pipe.call(f"{domain}.enable", session)
            pipe.call("Emulation.setDeviceMetricsOverride", session, width=width, height=900, deviceScaleFactor=1,
                      mobile=False)
            pipe.events.clear()
            pipe.call("Page.navigate", session, url=page.resolve().as_uri())
            pipe.wait_for("Page.loadEventFired")
            text = pipe.call("Runtime.evaluate", session, expression="document.body.innerText",
                             returnByValue=True)["result"].get("value", "")
            metrics = pipe.call("Page.getLayoutMetrics", session)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            w, h = int(size["width"]), int(size["height"])
            shot = pipe.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                             clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})
            time.sleep(0.2)  # late console or network events
            pipe.call("Runtime.evaluate", session, expression="1")
            requests = tuple(e["params"]["request"]["url"] for e in pipe.events
                             if e.get("method") == "Network.requestWillBeSent")
            return PageLoad(requests, _console(pipe.events), str(text), base64.b64decode(shot["data"]), w, h)
        finally:
            try:
                pipe.call("Browser.close", timeout=5)
            except (OSError, TimeoutError, EOFError, RuntimeError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            os.close(to_chrome_w)
            os.close(from_chrome_r)
