"""What CloudFormation does at deploy time and gxpscan does not: nested stacks, the SAM transform, Fn::ForEach and
macros. Each is a run warning naming the resource and its line; a macro makes every resource of its template an
error (it may rewrite any of them); the resources next to them are still judged."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.collectors.iac_repo import scan, verdicts, write

CHECK = "aws.s3.versioning"
BUCKET = "  Records:\n    Type: AWS::S3::Bucket\n    Properties:\n      VersioningConfiguration: {Status: Enabled}\n"


@pytest.mark.parametrize("head, resources, warnings, records", [
    ("", "  Audit:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n"
         "      TemplateURL: https://example.invalid/audit.yaml\n",
     ["stack.yaml line 7: stack.yaml#Audit: AWS::CloudFormation::Stack is a nested stack (template "
      "https://example.invalid/audit.yaml) and is not expanded: its resources are unknown, not judged"], "pass"),
    ("Transform: AWS::Serverless-2016-10-31\n",
     "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n"
     "  App:\n    Type: AWS::Serverless::Application\n    Properties:\n      Location: ./app.yaml\n",
     ["stack.yaml line 8: stack.yaml#Fn: AWS::Serverless::Function is expanded by the AWS::Serverless-2016-10-31 "
      "transform at deploy time, which gxpscan does not do: the resources it makes are unknown, not judged",
      "stack.yaml line 12: stack.yaml#App: AWS::Serverless::Application is a nested stack (template not named) and "
      "is not expanded: its resources are unknown, not judged"], "pass"),
    ("Transform: [AWS::LanguageExtensions]\n",
     "  Fn::ForEach::Buckets:\n    - Name\n    - [a, b]\n    - ${Name}Bucket:\n        Type: AWS::S3::Bucket\n",
     ["stack.yaml line 8: stack.yaml#Fn::ForEach::Buckets: the resources this Fn::ForEach loop makes are not "
      "expanded: they are unknown, not judged"], "pass"),
    ("Transform: [AWS::Serverless-2016-10-31, Acme::Rewriter]\n", "",
     ["stack.yaml: transform Acme::Rewriter rewrites the template at deploy time and is not expanded: every "
      "resource of the template is unknown (error)"], "error"),
])
def test_what_is_not_expanded_is_a_warning_naming_it(tmp_path: Path, head: str, resources: str,
                                                    warnings: list[str], records: str) -> None:
    write(tmp_path, {"stack.yaml": f"AWSTemplateFormatVersion: '2010-09-09'\n{head}Resources:\n{BUCKET}{resources}"})
    out = scan(tmp_path, checks=(CHECK,))
    assert [w.removeprefix("target code: ") for w in out.warnings if "expand" in w] == warnings
    assert verdicts(out, CHECK) == {"stack.yaml#Records": records}
