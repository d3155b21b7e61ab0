"""The intermediate form every input becomes: Terraform-shaped resource blocks with unknown values marked.

Terraform HCL, plan JSON and CloudFormation all turn into ``Block`` values whose ``type`` and attribute names are
those of the Terraform AWS provider (CloudFormation properties are renamed to them), so one builder
(``_build``) makes the AWS facts from all three.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any

from scanner.model import Location
from scanner.value import frozen, mutable

#: Deepest nesting of values followed (expressions, JSON, YAML); deeper is an error for the file.
MAX_DEPTH = 64
#: What evaluating one resource of hostile code may raise beyond our own checks (a literal too long for ``int``,
#: a value of a shape no provider accepts): the resource becomes an error, the other resources are still judged.
EVALUATION_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError)


@frozen
class Unknown:
    """A value that cannot be known from the code: why (a variable without value, a value computed at apply)."""

    reason: str

    def __str__(self) -> str:
        return f"<unknown: {self.reason}>"


@frozen
class InlineWaiver:
    """A waiver written next to a resource; ``problem`` is set when it is incomplete (it then waives nothing)."""

    check: str
    reason: str
    approver: str
    expires: str
    line: int
    problem: str = ""


@mutable
class Block:
    """One resource instance, Terraform-shaped: ``attrs`` holds evaluated values (``Unknown`` where unresolved),
    nested blocks as lists of dicts."""

    type: str
    address: str  # module.logs.aws_s3_bucket.audit[0], or stack.yaml#AuditBucket
    attrs: dict[str, Any]
    location: Location
    waivers: list[InlineWaiver] = field(default_factory=list)
    #: attribute -> addresses it refers to (plan JSON: used to join when the value itself is unknown)
    refs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    broken: str = ""  # set when the file did not parse: every value of the resource is unknown for this reason
    region: str = ""
    #: addresses this resource explicitly waits for (Terraform ``depends_on``, CloudFormation ``DependsOn``);
    #: a ``module.x`` entry waits for every resource of that module
    depends_on: tuple[str, ...] = ()
    #: plan JSON: the values the resource already has before this apply (``change.before``), None when it is new
    before: dict[str, Any] | None = None


def first(value: Any) -> Any:
    """The first element of a nested block list (Terraform blocks are lists), or the value itself."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def unknowns(value: Any, path: str = "") -> list[str]:
    """Where inside a value something is unknown, with why (``policy.Statement[0].Resource: variable x ...``)."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:  # most values: nothing inside them
        return []
    if isinstance(value, Unknown):
        where = path if len(path) <= 80 else path[:38] + "..." + path[-38:]
        return [f"{where or 'value'}: {value.reason}"]
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += unknowns(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += unknowns(v, f"{path}[{i}]")
    return out
