"""The AWS benchmark's request count: every request line of moto's log, coloured (non-200) or not."""
from __future__ import annotations

import pytest

from benchmarks.aws_pack import count_requests

#: Lines as werkzeug writes them when its log is coloured: the request of a non-200 answer is wrapped in SGR codes.
PLAIN_200 = '127.0.0.1 - - [01/Dec/2026 07:40:01] "POST / HTTP/1.1" 200 -'
NOT_FOUND = '127.0.0.1 - - [01/Dec/2026 07:40:02] "\x1b[33mGET /records-111?policy HTTP/1.1\x1b[0m" 404 -'
DENIED = '127.0.0.1 - - [01/Dec/2026 07:40:03] "\x1b[31m\x1b[1mPOST / HTTP/1.1\x1b[0m" 403 -'
THROTTLED = '127.0.0.1 - - [01/Dec/2026 07:40:04] "\x1b[31m\x1b[1mPOST / HTTP/1.1\x1b[0m" 400 -'
SERVER_ERROR = '127.0.0.1 - - [01/Dec/2026 07:40:05] "\x1b[35m\x1b[1mPUT /backup/plans/ HTTP/1.1\x1b[0m" 500 -'
NOT_MODIFIED = '127.0.0.1 - - [01/Dec/2026 07:40:06] "\x1b[36mGET /x HTTP/1.0\x1b[0m" 304 -'
NOISE = [" * Running on http://127.0.0.1:5000", "\x1b[31m\x1b[1mWARNING: This is a development server.\x1b[0m",
         "Traceback (most recent call last):", ""]


@pytest.mark.parametrize("line", [PLAIN_200, NOT_FOUND, DENIED, THROTTLED, SERVER_ERROR, NOT_MODIFIED])
def test_every_request_line_counts_whatever_its_colour(line: str) -> None:
    assert count_requests([line + "\n"]) == 1


def test_a_real_looking_log_counts_requests_only() -> None:
    log = [*NOISE, PLAIN_200, NOT_FOUND, PLAIN_200, DENIED, THROTTLED, SERVER_ERROR, NOT_MODIFIED, NOISE[1]]
    assert count_requests(f"{line}\n" for line in log) == 7


def test_werkzeug_colours_non_200_lines_as_these_tests_assume(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture lines are werkzeug's own format: its styling helper gives the same bytes."""
    from werkzeug import serving

    if not hasattr(serving, "_ansi_style"):
        pytest.skip("this werkzeug has no _ansi_style helper")
    monkeypatch.setattr(serving, "_log_add_style", True)  # as when moto's log may be coloured
    assert f'"{serving._ansi_style("GET /records-111?policy HTTP/1.1", "yellow")}" 404 -' in NOT_FOUND
    assert f'"{serving._ansi_style("POST / HTTP/1.1", "bold", "red")}" 403 -' in DENIED
