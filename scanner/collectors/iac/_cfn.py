"""CloudFormation templates (YAML and JSON) as Terraform-shaped blocks.

The template is composed by the strict loader of ``scanner.yamlload`` (no anchors or aliases, no duplicate keys,
bounded depth and size) and turned into data here: the short-form intrinsic tags (``!Ref``, ``!Sub``,
``!GetAtt``, ``!If``, ``!Join``, ``!Equals``, ...) become their long forms (``{"Fn::Sub": ...}``); an unknown tag is
an error for the file; nothing else is ever constructed. Parameters take their defaults, Conditions are decided
when their inputs are known; ``Ref`` to a resource is its name when the template sets one, else its address
(``file#LogicalId``), ``Fn::GetAtt X.Arn`` its address; anything else (``Fn::ImportValue``, other attributes, a
parameter without default) is ``Unknown``. Properties are renamed to the Terraform provider's attributes.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from scanner.collectors.iac._values import EVALUATION_ERRORS, MAX_DEPTH, Block, InlineWaiver, Unknown
from scanner.collectors.iac._waivers import complete
from scanner.model import Location
from scanner.value import mutable

_TAGS = {"!Ref": "Ref", "!Condition": "Condition", **{f"!{n}": f"Fn::{n}" for n in (
    "Sub", "GetAtt", "If", "Join", "Equals", "Not", "And", "Or", "Select", "Split", "FindInMap", "Base64",
    "GetAZs", "ImportValue", "Cidr", "Transform", "Length", "ToJsonString")}}
_NO_VALUE = object()
#: The only standard tags a template may carry (anything else, e.g. ``!!python/object``, is refused).
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map",
                                                            "timestamp", "binary"))
#: Attributes that identify a resource: ``Fn::GetAtt`` of them is the resource's address (joins, policies).
_IDENTITY_ATTRIBUTES = frozenset({"Arn", "GroupId", "Id", "KeyId", "BackupVaultArn", "BackupPlanArn"})


class CfnError(ValueError):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@mutable
class Template:
    data: dict[str, Any]
    lines: dict[str, tuple[int, int]]  # logical id -> (first, last line)


def is_template(doc: Any) -> bool:
    return isinstance(doc, dict) and ("AWSTemplateFormatVersion" in doc or (
        isinstance(doc.get("Resources"), dict) and any(
            isinstance(r, dict) and str(r.get("Type", "")).startswith("AWS::") for r in doc["Resources"].values())))


def load(text: str) -> Template:
    """Compose strictly and convert; CfnError with the line of the fault."""
    import yaml

    from scanner.yamlload import YamlError, compose_yaml

    try:
        node = compose_yaml(text)
    except YamlError as exc:
        raise CfnError(f"does not parse: {exc.problem}", exc.line) from None
    if node is None:
        return Template({}, {})
    constructor = yaml.SafeLoader("")
    try:
        data = _data(node, constructor, 0)
    finally:
        constructor.dispose()
    lines: dict[str, tuple[int, int]] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "Resources" and isinstance(value, yaml.MappingNode):
                for k, v in value.value:
                    lines[str(k.value)] = (k.start_mark.line + 1, max(k.start_mark.line + 1, _last_line(v)))
    return Template(data if isinstance(data, dict) else {}, lines)


def _last_line(node: Any) -> int:
    """The last line holding text of a node (a block mapping's end mark is already on the next key's line)."""
    import yaml

    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        end = node.end_mark
        return int(end.line + (1 if end.column > 0 else 0))
    children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
    return max((_last_line(c) for c in children), default=int(node.start_mark.line + 1))


def _data(node: Any, constructor: Any, depth: int) -> Any:
    import yaml

    if depth > MAX_DEPTH:
        raise CfnError(f"nested deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
    tag = node.tag
    if tag.startswith("!"):
        name = _TAGS.get(tag)
        if name is None:
            raise CfnError(f"unknown tag {tag[:40]}", node.start_mark.line + 1)
        inner = yaml.Node.__new__(type(node))
        inner.__dict__.update(node.__dict__)
        inner.tag = {yaml.ScalarNode: "tag:yaml.org,2002:str", yaml.SequenceNode: "tag:yaml.org,2002:seq",
                     yaml.MappingNode: "tag:yaml.org,2002:map"}[type(node)]
        value = _data(inner, constructor, depth + 1)
        if name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {name: value}
    if tag not in _PLAIN_TAGS:
        raise CfnError(f"unknown tag {tag[:60]}", node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        if tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"):
            return str(node.value)
        try:
            return constructor.construct_object(node)
        except (yaml.YAMLError, ValueError):
            return str(node.value)
    if isinstance(node, yaml.SequenceNode):
        return [_data(v, constructor, depth + 1) for v in node.value]
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _data(v, constructor, depth + 1) for k, v in node.value}
    raise CfnError("unexpected YAML node")  # pragma: no cover


class Resolver:
    """Evaluates intrinsic functions with the template's parameters, conditions and resources."""

    def __init__(self, template: dict[str, Any], rel: str, region: str, account: str, partition: str):
        self.t = template
        self.rel = rel
        self.pseudo = {"AWS::Region": region, "AWS::Partition": partition, "AWS::URLSuffix": "amazonaws.com",
                       "AWS::AccountId": account or Unknown("AWS::AccountId: no account given")}
        self.params: dict[str, Any] = {}
        for name, p in (template.get("Parameters") or {}).items():
            default = p.get("Default") if isinstance(p, dict) else None
            if isinstance(p, dict) and str(p.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
                self.params[name] = Unknown(f"parameter {name} is read from SSM Parameter Store at deploy time")
            else:
                self.params[name] = default if default is not None else Unknown(f"parameter {name} has no default")
        found = template.get("Resources")
        self.resources: dict[str, Any] = found if isinstance(found, dict) else {}
        self._conditions: dict[str, Any] = {}
        self.depth = 0

    def address(self, logical: str) -> str:
        return f"{self.rel}#{logical}"

    def condition(self, name: str) -> Any:
        if name not in self._conditions:
            self._conditions[name] = Unknown(f"condition {name} refers to itself")
            expr = (self.t.get("Conditions") or {}).get(name)
            value = self.value(expr) if expr is not None else Unknown(f"condition {name} is not defined")
            self._conditions[name] = value if isinstance(value, (bool, Unknown)) else Unknown(
                f"condition {name} is not a bool")
        return self._conditions[name]

    def value(self, v: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                return Unknown(f"nested deeper than {MAX_DEPTH} levels")
            return self._value(v)
        finally:
            self.depth -= 1

    def _value(self, v: Any) -> Any:
        if isinstance(v, list):
            return [x for x in (self.value(i) for i in v) if x is not _NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (key, arg), = v.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self.function(key, arg)
        return {k: x for k, x in ((k, self.value(x)) for k, x in v.items()) if x is not _NO_VALUE}

    def ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            res = self.resources[name]
            props = res.get("Properties") or {} if isinstance(res, dict) else {}
            key = _NAME_PROPERTY.get(str(res.get("Type")) if isinstance(res, dict) else "")
            named = self.value(props.get(key)) if key and key in props else None
            return named if isinstance(named, str) else self.address(name)
        return Unknown(f"Ref {str(name)[:60]} cannot be resolved")

    def function(self, key: str, arg: Any) -> Any:  # noqa: C901 - one dispatch over intrinsic functions
        if key == "Ref":
            return self.ref(arg)
        if key == "Condition":
            return self.condition(str(arg))
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            if len(parts) == 2 and parts[0] in self.resources and parts[1] in _IDENTITY_ATTRIBUTES:
                return self.address(str(parts[0]))
            return Unknown(f"Fn::GetAtt {'.'.join(map(str, parts))[:60]} is known only after deploy")
        if key == "Fn::Sub":
            return self.sub(arg)
        args = self.value(arg)
        if isinstance(args, Unknown):
            return args
        if key == "Fn::If" and isinstance(args, list) and len(args) == 3:
            cond = self.condition(str(arg[0]))
            if isinstance(cond, Unknown):
                return cond
            return self.value(arg[1] if cond else arg[2])
        if _has_unknown(args):
            return next(x for x in _flat(args) if isinstance(x, Unknown))
        fn = _FUNCTIONS.get(key)
        if fn is None:
            return Unknown(f"{key} is not evaluated statically")
        try:
            return fn(self, args)
        except (TypeError, ValueError, KeyError, IndexError):
            return Unknown(f"{key} with arguments it cannot take")

    def sub(self, arg: Any) -> Any:
        import re

        text, extra = (arg[0], arg[1] if len(arg) > 1 else {}) if isinstance(arg, list) else (arg, {})
        if not isinstance(text, str):
            return Unknown("Fn::Sub of a non-string")
        values = {k: self.value(v) for k, v in (extra or {}).items()} if isinstance(extra, dict) else {}

        def one(m: Any) -> str:
            name = str(m.group(1))
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                got = values[name]
            elif "." in name and name.split(".", 1)[0] in self.resources:
                got = self.function("Fn::GetAtt", name.split(".", 1))
            else:
                got = self.ref(name)
            if isinstance(got, Unknown) or got is _NO_VALUE or not isinstance(got, (str, int, float)):
                raise _SubUnknown(got if isinstance(got, Unknown) else Unknown(f"${{{name}}} is not a string"))
            return str(got)

        try:
            return re.sub(r"\$\{([^}]*)\}", one, text)
        except _SubUnknown as exc:
            return exc.unknown


class _SubUnknown(Exception):
    def __init__(self, unknown: Unknown):
        self.unknown = unknown


def _flat(v: Any) -> list[Any]:
    if isinstance(v, list):
        return [x for i in v for x in _flat(i)]
    if isinstance(v, dict):
        return [x for i in v.values() for x in _flat(i)]
    return [v]


def _has_unknown(v: Any) -> bool:
    return any(isinstance(x, Unknown) for x in _flat(v))


def _bool_of(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Fn::Equals": lambda _r, a: str(a[0]) == str(a[1]),
    "Fn::Not": lambda _r, a: not _bool_of(a[0]),
    "Fn::And": lambda _r, a: all(_bool_of(x) for x in a),
    "Fn::Or": lambda _r, a: any(_bool_of(x) for x in a),
    "Fn::Join": lambda _r, a: str(a[0]).join(str(x) for x in a[1]),
    "Fn::Select": lambda _r, a: a[1][int(a[0])],
    "Fn::Split": lambda _r, a: str(a[1]).split(str(a[0])),
    "Fn::FindInMap": lambda r, a: r.t["Mappings"][a[0]][a[1]][a[2]],
    "Fn::ToJsonString": lambda _r, a: json.dumps(a),
    "Fn::Length": lambda _r, a: len(a),
}

#: The property that names a resource (what ``Ref`` returns when the template sets it).
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName", "AWS::KMS::Key": "", "AWS::CloudTrail::Trail": "TrailName",
    "AWS::Logs::LogGroup": "LogGroupName", "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::IAM::User": "UserName", "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier", "AWS::Config::ConfigurationRecorder": "Name",
}


def _get(props: Mapping[str, Any], *path: str) -> Any:
    v: Any = props
    for p in path:
        if isinstance(v, Unknown):
            return v
        v = v.get(p) if isinstance(v, dict) else None
    return v


def _opt(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


def _rule(r: Mapping[str, Any]) -> dict[str, Any]:
    return _opt(protocol=r.get("IpProtocol"), from_port=r.get("FromPort"), to_port=r.get("ToPort"),
                cidr_blocks=[r["CidrIp"]] if r.get("CidrIp") is not None else [],
                ipv6_cidr_blocks=[r["CidrIpv6"]] if r.get("CidrIpv6") is not None else [])


#: Transforms whose effect is known: SAM expands only its own ``AWS::Serverless::*`` resources (the others pass
#: through unchanged); the language extensions add functions evaluated here or named as not expanded.
SAM = "AWS::Serverless-2016-10-31"
_KNOWN_TRANSFORMS = frozenset({SAM, "AWS::LanguageExtensions"})
#: Resources that are whole stacks of their own, deployed from another template.
_NESTED = frozenset({"AWS::CloudFormation::Stack", "AWS::Serverless::Application"})


def _transforms(template: Mapping[str, Any]) -> list[str]:
    found = template.get("Transform")
    names = found if isinstance(found, list) else [found] if found is not None else []
    return [n if isinstance(n, str) else json.dumps(n, default=str)[:80] for n in names]


def unexpanded(template: Template, rel: str) -> list[tuple[str, int | None, str]]:
    """What gxpscan does not expand, each named with its line (run warnings): nested stacks, resources a SAM
    transform expands, ``Fn::ForEach`` loops, and macros (their templates' resources are all errors)."""
    out: list[tuple[str, int | None, str]] = []
    macros = [t for t in _transforms(template.data) if t not in _KNOWN_TRANSFORMS]
    if macros:
        out.append((rel, None, f"transform {', '.join(macros)} rewrites the template at deploy time and is not "
                               "expanded: every resource of the template is unknown (error)"))
    found = template.data.get("Resources")
    for logical, res in (found if isinstance(found, dict) else {}).items():
        line = template.lines.get(logical, (None, None))[0]
        kind = str(res.get("Type")) if isinstance(res, dict) else ""
        if logical.startswith("Fn::ForEach::"):
            why = "the resources this Fn::ForEach loop makes are not expanded: they are unknown, not judged"
        elif kind in _NESTED:
            source = res.get("Properties", {}).get("TemplateURL") if isinstance(res.get("Properties"), dict) \
                else None
            why = (f"{kind} is a nested stack (template {str(source)[:120] if source else 'not named'}) and is not "
                   "expanded: its resources are unknown, not judged")
        elif kind.startswith("AWS::Serverless::") and SAM in _transforms(template.data):
            why = (f"{kind} is expanded by the {SAM} transform at deploy time, which gxpscan does not do: the "
                   "resources it makes are unknown, not judged")
        else:
            continue
        out.append((rel, line, f"{rel}#{logical}: {why}"))
    return out


def blocks(template: Template, rel: str, region: str, account: str, partition: str) -> list[Block]:
    """The template's resources as Terraform-shaped blocks (several for an S3 bucket's settings)."""
    resolver = Resolver(template.data, rel, region, account, partition)
    macros = [t for t in _transforms(template.data) if t not in _KNOWN_TRANSFORMS]
    has_channel = any(isinstance(r, dict) and r.get("Type") == "AWS::Config::DeliveryChannel"
                      for r in resolver.resources.values())
    out: list[Block] = []
    for logical, res in resolver.resources.items():
        if not isinstance(res, dict):
            continue
        first_line, last_line = template.lines.get(logical, (None, None))
        loc = Location(rel, first_line, last_line)
        address = resolver.address(logical)
        waivers = _waivers(res, first_line or 0)
        broken = f"{rel}: transform {', '.join(macros)} is not expanded, {logical} may be changed by it" \
            if macros else ""
        if "Condition" in res:
            cond = resolver.condition(str(res["Condition"]))
            if cond is False:
                continue
            if isinstance(cond, Unknown):
                broken = f"{rel} line {first_line}: whether {logical} exists depends on {cond.reason}"
        try:
            props = resolver.value(res.get("Properties") or {})
            converted = _convert(str(res.get("Type")), props if isinstance(props, dict) else {}, address,
                                 has_channel)
        except EVALUATION_ERRORS as exc:
            why = f"{rel} line {first_line}: cannot be evaluated: {type(exc).__name__}"
            converted = [(rtype, dict[str, Any]()) for rtype, _ in _convert(str(res.get("Type")), {}, address,
                                                                               has_channel)][:1]
            broken = broken or why
        waits = res.get("DependsOn")
        depends_on = tuple(resolver.address(str(d)) for d in (waits if isinstance(waits, list) else [waits])
                           if isinstance(d, str))
        for rtype, attrs in converted:
            out.append(Block(rtype, address, attrs, loc, list(waivers), broken=broken, region=region,
                             depends_on=depends_on))
    return out


def _waivers(res: Mapping[str, Any], line: int) -> list[InlineWaiver]:
    meta = _get(res, "Metadata", "gxpscan", "waive")
    if meta is None:
        return []
    entries = meta if isinstance(meta, list) else [meta]
    return [complete(e.get("check"), e, line) if isinstance(e, dict) else complete("", {}, line) for e in entries]


def _convert(kind: str, p: dict[str, Any], address: str, has_channel: bool) -> list[tuple[str, dict[str, Any]]]:
    """CloudFormation properties as Terraform provider attributes (one or more blocks)."""
    if kind == "AWS::S3::Bucket":
        out = [("aws_s3_bucket", _opt(bucket=p.get("BucketName"), object_lock_enabled=p.get("ObjectLockEnabled"),
                                      acl=p.get("AccessControl"), tags=_tags(p.get("Tags"))))]
        enc = _get(p, "BucketEncryption", "ServerSideEncryptionConfiguration")
        if enc is not None:
            rules = enc if isinstance(enc, (list, Unknown)) else [enc]
            out.append(("aws_s3_bucket_server_side_encryption_configuration", {"bucket": address, "rule": rules if
                        isinstance(rules, Unknown) else [{"apply_server_side_encryption_by_default": [_opt(
                            sse_algorithm=_get(r, "ServerSideEncryptionByDefault", "SSEAlgorithm"))]} for r in rules
                            if isinstance(r, dict)]}))
        if p.get("VersioningConfiguration") is not None:
            out.append(("aws_s3_bucket_versioning", {"bucket": address, "versioning_configuration": [
                {"status": _get(p, "VersioningConfiguration", "Status")}]}))
        pab = p.get("PublicAccessBlockConfiguration")
        if pab is not None:
            names = {"BlockPublicAcls": "block_public_acls", "IgnorePublicAcls": "ignore_public_acls",
                     "BlockPublicPolicy": "block_public_policy", "RestrictPublicBuckets": "restrict_public_buckets"}
            out.append(("aws_s3_bucket_public_access_block", {"bucket": address, **(
                {v: pab for v in names.values()} if isinstance(pab, Unknown) else
                {v: pab.get(k, False) for k, v in names.items()})}))
        if p.get("LoggingConfiguration") is not None:
            target = _get(p, "LoggingConfiguration", "DestinationBucketName")
            out.append(("aws_s3_bucket_logging", {"bucket": address, "target_bucket": target or address}))
        if p.get("ObjectLockConfiguration") is not None:
            out.append(("aws_s3_bucket_object_lock_configuration", {"bucket": address, "object_lock_enabled": _get(
                p, "ObjectLockConfiguration", "ObjectLockEnabled") or "Enabled", "rule": [{"default_retention": [
                    {"mode": _get(p, "ObjectLockConfiguration", "Rule", "DefaultRetention", "Mode")}]}]}))
        return out
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return [(simple[0], simple[1](p, has_channel))]
    return []


def _tags(tags: Any) -> Any:
    if isinstance(tags, list):
        return {str(t.get("Key")): t.get("Value") for t in tags if isinstance(t, dict)}
    return tags


_SIMPLE: dict[str, tuple[str, Callable[[dict[str, Any], bool], dict[str, Any]]]] = {
    "AWS::S3::BucketPolicy": ("aws_s3_bucket_policy", lambda p, _c: _opt(bucket=p.get("Bucket"),
                                                                          policy=p.get("PolicyDocument"))),
    "AWS::KMS::Key": ("aws_kms_key", lambda p, _c: _opt(enable_key_rotation=p.get("EnableKeyRotation"),
                                                        key_spec=p.get("KeySpec"), is_enabled=p.get("Enabled"),
                                                        key_usage=p.get("KeyUsage"))),
    "AWS::CloudTrail::Trail": ("aws_cloudtrail", lambda p, _c: _opt(
        name=p.get("TrailName"), is_multi_region_trail=p.get("IsMultiRegionTrail"),
        enable_log_file_validation=p.get("EnableLogFileValidation"), kms_key_id=p.get("KMSKeyId"),
        s3_bucket_name=p.get("S3BucketName"), enable_logging=p.get("IsLogging"),
        event_selector=[_opt(include_management_events=s.get("IncludeManagementEvents"),
                             read_write_type=s.get("ReadWriteType"),
                             exclude_management_event_sources=s.get("ExcludeManagementEventSources"),
                             data_resource=[{"type": r.get("Type"), "values": r.get("Values")}
                                            for r in s.get("DataResources") or [] if isinstance(r, dict)] or None)
                        for s in p.get("EventSelectors") or [] if isinstance(s, dict)] or None,
        advanced_event_selector=p.get("AdvancedEventSelectors"))),
    "AWS::EC2::SecurityGroup": ("aws_security_group", lambda p, _c: _opt(
        name=p.get("GroupName"), vpc_id=p.get("VpcId"),
        ingress=[_rule(r) for r in p.get("SecurityGroupIngress") or [] if isinstance(r, dict)])),
    "AWS::EC2::SecurityGroupIngress": ("aws_security_group_rule", lambda p, _c: {
        "type": "ingress", "security_group_id": p.get("GroupId"), **_rule(p)}),
    "AWS::EC2::Volume": ("aws_ebs_volume", lambda p, _c: _opt(encrypted=p.get("Encrypted"),
                                                              kms_key_id=p.get("KmsKeyId"))),
    "AWS::RDS::DBInstance": ("aws_db_instance", lambda p, _c: _opt(
        storage_encrypted=p.get("StorageEncrypted"), backup_retention_period=p.get("BackupRetentionPeriod"),
        deletion_protection=p.get("DeletionProtection"), engine=p.get("Engine"), kms_key_id=p.get("KmsKeyId"),
        cluster_identifier=p.get("DBClusterIdentifier"))),
    "AWS::RDS::DBCluster": ("aws_rds_cluster", lambda p, _c: _opt(
        cluster_identifier=p.get("DBClusterIdentifier"), storage_encrypted=p.get("StorageEncrypted"),
        backup_retention_period=p.get("BackupRetentionPeriod"), deletion_protection=p.get("DeletionProtection"),
        engine=p.get("Engine"))),
    "AWS::Backup::BackupPlan": ("aws_backup_plan", lambda p, _c: _opt(
        name=_get(p, "BackupPlan", "BackupPlanName"),
        rule=[{"target_vault_name": r.get("TargetBackupVault")} for r in _get(p, "BackupPlan", "BackupPlanRule")
              or [] if isinstance(r, dict)])),
    "AWS::Backup::BackupVault": ("aws_backup_vault", lambda p, _c: _opt(name=p.get("BackupVaultName"),
                                                                        kms_key_arn=p.get("EncryptionKeyArn"))),
    "AWS::Config::ConfigurationRecorder": ("aws_config_configuration_recorder", lambda p, c: _opt(
        name=p.get("Name"), recording_started=c,
        recording_group=[_opt(all_supported=_get(p, "RecordingGroup", "AllSupported"))]
        if p.get("RecordingGroup") is not None else None)),
    "AWS::Logs::LogGroup": ("aws_cloudwatch_log_group", lambda p, _c: _opt(
        name=p.get("LogGroupName"), retention_in_days=p.get("RetentionInDays"))),
    "AWS::IAM::User": ("aws_iam_user", lambda p, _c: _opt(
        name=p.get("UserName"), managed_policy_arns=p.get("ManagedPolicyArns"),
        inline_policy=[{"name": x.get("PolicyName"), "policy": x.get("PolicyDocument")}
                       for x in p.get("Policies") or [] if isinstance(x, dict)])),
    "AWS::AccessAnalyzer::Analyzer": ("aws_accessanalyzer_analyzer", lambda p, _c: _opt(
        type=p.get("Type"), analyzer_name=p.get("AnalyzerName"))),
}


def broken_blocks(text: str, rel: str, why: str) -> list[Block]:
    """Resources still recognisable (``Type: AWS::...`` under a logical id) in a template that does not parse or
    was not read whole: each a block whose every value is unknown for ``why``."""
    import re

    found: list[tuple[str, str, int]] = []  # (logical id, CloudFormation type, line)
    for one in re.finditer(r'"([A-Za-z0-9]+)"\s*:\s*\{\s*"Type"\s*:\s*"(AWS::[A-Za-z0-9:]+)"', text):  # JSON
        found.append((one.group(1), one.group(2), text.count("\n", 0, one.start()) + 1))
    lines = text.split("\n")
    for i, line in enumerate(lines if not found else ()):
        kind = re.match(r"^\s*\"?Type\"?\s*:\s*\"?(AWS::[A-Za-z0-9:]+)", line)
        for j in range(i - 1, max(-1, i - 5), -1) if kind else ():
            logical = re.match(r"^\s*\"?([A-Za-z0-9]+)\"?\s*:\s*\{?\s*$", lines[j])
            if logical and kind:
                found.append((logical.group(1), kind.group(1), j + 1))
                break
    return [Block(converted[0][0], f"{rel}#{logical}", {}, Location(rel, line, line), broken=why)
            for logical, kind, line in found if (converted := _convert(kind, {}, "", False))]
