"""The hooks of .pre-commit-hooks.yaml run as pre-commit runs them, on a sample git repository.

pre-commit (a test extra) runs for real on a sample repository whose config declares our hooks as a local repo:
each hook exactly as the manifest defines it (entry, files, pass_filenames, require_serial), with two changes
that keep the test offline: ``language`` is pre-commit's "use what is on PATH" (``unsupported``, called
``system`` before pre-commit 4.4) instead of ``python`` (which would pip-install gxpscan and its dependencies from
a registry into a fresh environment), and ``gxpscan`` on PATH is this checkout. Where pre-commit is not
installed, the hook's command line is built from the manifest as pre-commit builds it (entry, args, then the
staged file names that match ``files`` when ``pass_filenames``) and run in the sample repository.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.engine.gitrepo import GIT_ENV, GitRepo, init_repo

REPO = Path(__file__).resolve().parents[2]
ROTATING = 'resource "aws_kms_key" "%s" {\n  enable_key_rotation = true\n}\n'
STATIC = 'resource "aws_kms_key" "%s" {\n  description = "no rotation"\n}\n'
ONLY_KMS = ["--check", "aws.kms.key_rotation"]


def manifest() -> dict[str, dict[str, Any]]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return {h["id"]: h for h in hooks}


def test_the_manifest_declares_the_hooks_pre_commit_needs() -> None:
    hooks = manifest()
    assert set(hooks) == {"gxpscan-iac", "gxpscan-iac-files"}
    for hook in hooks.values():
        assert {"id", "name", "entry", "language"} <= set(hook) and hook["language"] == "python"
        assert shlex.split(hook["entry"])[:2] == ["gxpscan", "scan"]
    assert hooks["gxpscan-iac"]["pass_filenames"] is False and hooks["gxpscan-iac"]["entry"].endswith("--iac .")
    assert hooks["gxpscan-iac-files"]["pass_filenames"] is True and hooks["gxpscan-iac-files"]["args"] == ["--iac"]
    for name in ("main.tf", "x/y.tf.json", "stack.template", "a.cfn.yaml", "a.cfn.json"):
        assert re.search(hooks["gxpscan-iac"]["files"], name), name
    for name in ("README.md", "package.json", "main.tf.bak", "k8s.yaml"):
        assert not re.search(hooks["gxpscan-iac"]["files"], name), name


def _has_pre_commit() -> bool:
    return importlib.util.find_spec("pre_commit") is not None


def _env(tmp: Path) -> dict[str, str]:
    """PATH with a ``gxpscan`` that is this checkout; pre-commit's cache in the test's directory."""
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    exe = bindir / "gxpscan"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH={shlex.quote(str(REPO))} exec {shlex.quote(sys.executable)} '
                   f'-m scanner "$@"\n', encoding="utf-8")
    exe.chmod(0o755)
    return {**os.environ, **GIT_ENV, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
            "PRE_COMMIT_HOME": str(tmp / "pre-commit-cache"), "HOME": str(tmp)}


def _local_language() -> str:
    return "unsupported" if importlib.util.find_spec("pre_commit.languages.unsupported") else "system"


def run_hook(repo: GitRepo, hook_id: str, args: list[str], tmp: Path) -> tuple[int, str]:
    """Stage everything and run one hook on the staged files, as `git commit` would."""
    hook = {**manifest()[hook_id], "language": _local_language(), "args": args}
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    repo.write(".pre-commit-config.yaml", yaml.safe_dump(config, sort_keys=False))
    repo.git("add", "-A")
    env = _env(tmp)
    if _has_pre_commit():
        proc = subprocess.run([sys.executable, "-m", "pre_commit", "run", hook_id, "--color", "never",
                               "--verbose"],
                              cwd=repo.root, env=env, capture_output=True, text=True, timeout=300)
        return proc.returncode, proc.stdout + proc.stderr
    staged = repo.git("diff", "--cached", "--name-only", "-z").split("\0")
    files = [f for f in staged if f and re.search(hook["files"], f)]
    if not files:
        return 0, "(no files to check)Skipped"
    argv = [*shlex.split(hook["entry"]), *args, *(files if hook.get("pass_filenames", True) else [])]
    proc = subprocess.run(argv, cwd=repo.root, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def _records(repo: GitRepo) -> list[str]:
    """The targets of every run the hook recorded, in the repository's ./gxpscan-results."""
    import json

    out = []
    for record in sorted((repo.root / "gxpscan-results").glob("*/record.jsonl")):
        if record.parent.is_symlink():
            continue  # the results directory's `latest` link (issue 13) names a run counted already
        for line in record.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                entry = json.loads(line)
                if entry["type"] == "target":
                    out.append(entry["target"])
    return sorted(out)


@pytest.fixture
def sample(tmp_path: Path) -> GitRepo:
    repo = init_repo(tmp_path / "sample")
    repo.write("README.md", "sample\n")
    repo.write(".gitignore", "gxpscan-results/\n")
    repo.commit("start")
    return repo


def test_the_whole_repository_hook_blocks_a_failing_commit_and_passes_a_fixed_one(sample: GitRepo,
                                                                                  tmp_path: Path) -> None:
    sample.write("README.md", "only docs changed\n")
    code, output = run_hook(sample, "gxpscan-iac", ONLY_KMS, tmp_path)
    assert code == 0 and "Skipped" in output  # no Terraform or CloudFormation file staged: not run

    sample.write("infra/keys.tf", ROTATING % "good" + "\n" + STATIC % "legacy")
    code, output = run_hook(sample, "gxpscan-iac", ONLY_KMS, tmp_path)
    assert code == 1, output
    assert "summary: fail 1, pass 1" in output

    sample.write("infra/keys.tf", ROTATING % "good" + "\n" + ROTATING % "legacy")
    code, output = run_hook(sample, "gxpscan-iac", ONLY_KMS, tmp_path)
    assert code == 0, output
    assert "summary: pass 2" in output
    assert _records(sample) == ["sample", "sample"]  # the whole repository, as one target named after it


def test_the_changed_files_hook_scans_each_staged_file_as_its_own_target(sample: GitRepo, tmp_path: Path) -> None:
    sample.write("infra/a/main.tf", STATIC % "a")
    sample.write("infra/b/main.tf", ROTATING % "b")
    sample.write("notes.yaml", "not: infrastructure\n")
    code, output = run_hook(sample, "gxpscan-iac-files", [*ONLY_KMS, "--iac"], tmp_path)
    assert code == 1, output
    assert "summary: fail 1, pass 1" in output
    assert _records(sample) == ["infra_a_main.tf", "infra_b_main.tf"]
