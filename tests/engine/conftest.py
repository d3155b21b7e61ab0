from __future__ import annotations

import pytest

from scanner.model import Evidence, Fact
from scanner.registry import Registry, spec_of
from tests.engine import sample


@pytest.fixture
def registry() -> Registry:
    return Registry([spec_of(f) for f in (sample.widgets_few, sample.each_blue, sample.raises, sample.needs_root)],
                    sample.FACTS)


def fake_collector(values: dict, errors: dict | None = None):
    """A collector that answers from a dict, as the real ones would, with evidence."""
    errors = errors or {}

    def collect(target, names):
        out = {}
        for n in names:
            if n in errors:
                out[n] = Fact.failed(n, errors[n], (Evidence.of("probe " + n, b"denied", exit_code=1),))
            elif n in values:
                out[n] = Fact(n, values[n], (Evidence.of("probe " + n, repr(values[n]).encode(), exit_code=0),))
        return out

    return collect
