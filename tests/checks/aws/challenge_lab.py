"""What the AWS challenge tests share: a private moto server per test module and how a challenge is run on it."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scanner.challenge import ChallengeOutcome, challenge_spec_of, run_challenge
from scanner.model import Status, Target
from tests.conftest import lab_unavailable
from tests.factories import make_target
from tests.lab import motolab

GOOD, BAD = "333333333333", "444444444444"


def moto_server(tmp_path_factory: pytest.TempPathFactory,
                populate: Callable[[motolab.MotoServer], None]) -> Iterator[motolab.MotoServer]:
    """A private moto server (no managed policies: quick to start) populated for one test module."""
    try:
        server = motolab.start_moto(str(tmp_path_factory.mktemp("moto-challenge")), managed_policies=False)
    except RuntimeError as exc:
        lab_unavailable(str(exc))
    try:
        with motolab.lab_credentials():
            populate(server)
        yield server
    finally:
        server.stop()


def target(lab: motolab.MotoServer, account: str, **opts: Any) -> Target:
    options = {"endpoint_url": lab.endpoint, "accounts": [account], "role_name": motolab.ROLE_NAME,
               "regions": [motolab.REGIONS[0]], **opts}
    return make_target("moto", type="aws", **options)


def run(check: Any, lab: motolab.MotoServer, account: str, plan: bool = False, ca: str = "",
        env: dict[str, str] | None = None, **opts: Any) -> ChallengeOutcome:
    spec = challenge_spec_of(check)
    assert spec is not None
    with motolab.lab_credentials():
        os.environ.update(env or {})  # lab_credentials restores the environment's AWS_ variables afterwards
        if ca:
            os.environ["AWS_CA_BUNDLE"] = ca
        try:
            return run_challenge(spec, target(lab, account, **opts), plan=plan)
        finally:
            for key in env or {}:
                os.environ.pop(key, None)


def plan(check: Any, **opts: Any) -> ChallengeOutcome:
    """Plan mode on a target no server answers: a probe that ran would show as an undetermined step."""
    spec = challenge_spec_of(check)
    assert spec is not None
    nowhere = make_target("nowhere", type="aws", endpoint_url="http://127.0.0.1:9", **opts)
    return run_challenge(spec, nowhere, plan=True)


def verdicts(out: ChallengeOutcome) -> dict[str, tuple[Status, str]]:
    return {f.resource: (f.status, f.message) for f in out.findings}


def assert_no_secret(*outs: Any, caplog: Any, secrets: tuple[str, ...] = (motolab.PLANTED_SECRET,)) -> None:
    text = repr(outs) + caplog.text
    for secret in secrets:
        assert secret not in text
