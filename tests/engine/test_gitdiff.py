"""scanner.gitdiff on real temporary git repositories: changed files and lines against a ref."""
from __future__ import annotations

from pathlib import Path

import pytest

from scanner.gitdiff import FileChange, GitDiffError, changes, parse_diff
from tests.engine.gitrepo import GitRepo, init_repo

TEN = "".join(f"line {n}\n" for n in range(1, 11))


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = init_repo(tmp_path / "repo")
    repo.write("main.tf", TEN)
    repo.write("gone.tf", TEN)
    repo.write("moved.tf", TEN)
    repo.write("renamed_same.tf", TEN)
    repo.write("tail.tf", "a\nb")  # no newline at the end
    repo.commit("base")
    repo.git("branch", "base")
    return repo


def test_changed_new_renamed_and_deleted_files_with_their_new_side_lines(repo: GitRepo) -> None:
    repo.write("main.tf", TEN.replace("line 3\n", "LINE 3\n").replace("line 7\n", "").replace("line 9\n",
                                                                                              "line 9\nextra\n"))
    (repo.root / "gone.tf").unlink()
    (repo.root / "sub dir").mkdir()
    repo.git("mv", "moved.tf", "sub dir/ünïcode.tf")
    repo.write("sub dir/ünïcode.tf", TEN.replace("line 5\n", "line five\n"))
    repo.git("mv", "renamed_same.tf", "renamed_other.tf")
    repo.write("tail.tf", "a\nB")
    repo.write("new/s3.tf", "resource {}\n")
    repo.write("tab\there.tf", "x\n")
    repo.commit("change")

    found = changes("base", repo.root)
    assert found.root == repo.root.resolve()
    assert dict(found.files) == {
        # line 3 changed; line 7 deleted (between new lines 6 and 7); "extra" added as new line 9
        "main.tf": FileChange("main.tf", spans=((3, 3), (6, 7), (9, 9))),
        "sub dir/ünïcode.tf": FileChange("sub dir/ünïcode.tf", spans=((5, 5),)),
        "renamed_other.tf": FileChange("renamed_other.tf"),  # a pure rename changes no line
        "tail.tf": FileChange("tail.tf", spans=((2, 2),)),
        "new/s3.tf": FileChange("new/s3.tf", new=True, spans=((1, 1),)),
        "tab\there.tf": FileChange("tab\there.tf", new=True, spans=((1, 1),)),
    }
    assert found.touches(repo.root / "main.tf", 1, 3) and not found.touches(repo.root / "main.tf", 4, 5)
    assert found.touches(repo.root / "main.tf", 7, 8)  # the deletion sits between lines 6 and 7
    assert not found.touches(repo.root / "main.tf", 10, 12)
    assert found.touches(repo.root / "new/s3.tf", 40, 50)  # a new file is changed throughout
    assert not found.touches(repo.root / "renamed_other.tf", 1, 10)
    assert not found.touches(repo.root / "gone.tf", 1, 10)


def test_the_diff_is_against_the_merge_base_and_a_ref_may_be_a_commit(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("main.tf", TEN.replace("line 2\n", "line two\n"))
    repo.commit("feature")
    repo.git("checkout", "-q", "base")
    repo.write("other.tf", "on base only\n")
    base_tip = repo.commit("base moves on")
    repo.git("checkout", "-q", "feature")
    assert list(changes("base", repo.root).files) == ["main.tf"]  # base's own later commit is not ours
    assert set(changes(base_tip, repo.root).files) == {"main.tf"}


def test_hunk_bodies_are_counted_never_read_as_headers() -> None:
    text = "\n".join([
        "diff --git a/x.tf b/x.tf", "index 1..2 100644", "--- a/x.tf", "+++ b/x.tf",
        "@@ -2,2 +2,3 @@", "--- a/evil.tf", "-\\ fake", "+++ b/evil.tf", "+diff --git a/e b/e", "+@@ -1 +900,9 @@",
        "\\ No newline at end of file", ""])
    assert list(parse_diff(text)) == [FileChange("x.tf", spans=((2, 4),))]


def test_a_repository_cannot_make_the_diff_run_its_programs(repo: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    repo.write(".gitattributes", "*.tf diff=evil\n")
    repo.git("config", "diff.evil.command", f"touch {marker}")
    repo.git("config", "diff.evil.textconv", f"sh -c 'touch {marker}; cat'")
    repo.git("config", "diff.noprefix", "true")
    repo.git("config", "diff.relative", "true")
    repo.write("main.tf", TEN.replace("line 4\n", "line four\n"))
    repo.commit("attributes")
    found = changes("base", repo.root / "main.tf")
    assert found.files["main.tf"] == FileChange("main.tf", spans=((4, 4),))
    assert not marker.exists()


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=OUT", "-p", "base^{tree}", "HEAD~99", ""])
def test_an_unknown_ref_is_a_clear_error_and_never_an_option(repo: GitRepo, ref: str) -> None:
    with pytest.raises(GitDiffError, match=r"^unknown git ref"):
        changes(ref.replace("OUT", str(repo.root / "written")), repo.root)
    assert not (repo.root / "written").exists()


def test_outside_a_git_repository_is_a_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitDiffError, match="is not inside a git repository"):
        changes("main", plain)
    with pytest.raises(GitDiffError, match="no such directory"):
        changes("main", tmp_path / "missing" / "x.tf")
