"""A real git repository in a temporary directory, for --diff-base and the pre-commit hook."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {"GIT_AUTHOR_NAME": "Lab", "GIT_AUTHOR_EMAIL": "lab@example.invalid", "GIT_COMMITTER_NAME": "Lab",
           "GIT_COMMITTER_EMAIL": "lab@example.invalid", "GIT_CONFIG_NOSYSTEM": "1"}


@dataclass(frozen=True)
class GitRepo:
    root: Path

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV, "HOME": str(self.root.parent)}
        out = subprocess.run(["git", *args], cwd=self.root, env=env, check=True, capture_output=True)
        return out.stdout.decode()

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


def init_repo(where: Path) -> GitRepo:
    where.mkdir(parents=True, exist_ok=True)
    repo = GitRepo(where)
    repo.git("init", "-q", "-b", "main")
    return repo
