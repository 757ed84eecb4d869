"""``mypy --strict`` refuses each planted mistake of ``mistakes.py`` and accepts ``correct.py``.

mypy runs in a scratch directory outside the repository, so it finds wamd only as an
installed package (``py.typed``), the way a user's project does; with an editable install
(``pip install -e .``) that needs the plain ``.pth`` entry ``pyproject.toml`` asks for.
"""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from wamd.store import use_multi_file_auth_state

HERE = Path(__file__).resolve().parent
MISTAKES = HERE / "mistakes.py"
CORRECT = HERE / "correct.py"
ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+): error: (?P<text>.*)$")


def marked(path: Path, marker: str) -> dict[int, str]:
    """Line number -> what the mistake is, for the lines ending in ``# <marker>: ...``."""
    out: dict[int, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = re.search(rf"# {re.escape(marker)}: (.*)$", line)
        if match:
            out[number] = match.group(1)
    return out


def auth_state_is_typed() -> bool:
    """``use_*_auth_state`` returns a typed pair, not ``tuple[Any, ...]``."""
    ret = typing.get_type_hints(use_multi_file_auth_state)["return"]
    args = typing.get_args(ret)
    return not (args and args[0] is typing.Any) and ret is not typing.Any


@pytest.fixture(scope="module")
def errors(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, dict[int, list[str]]]:
    scratch = tmp_path_factory.mktemp("mypy")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            "--cache-dir",
            str(scratch / "cache"),
            str(MISTAKES),
            str(CORRECT),
        ],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 2: mypy itself failed
    found: dict[Path, dict[int, list[str]]] = {MISTAKES: {}, CORRECT: {}}
    for line in result.stdout.splitlines():
        match = ERROR.match(line)
        if match:
            path = Path(match["path"]).resolve()
            found.setdefault(path, {}).setdefault(int(match["line"]), []).append(match["text"])
    everything = [t for lines in found.values() for ts in lines.values() for t in ts]
    assert not any("import-not-found" in t or "import-untyped" in t for t in everything), (
        "mypy does not see wamd's types from the installed package: with an editable "
        "install, reinstall (pip install -e .) so that it is a .pth path entry\n" + result.stdout
    )
    return found


def test_the_correct_script_passes(errors: dict[Path, dict[int, list[str]]]) -> None:
    assert errors[CORRECT] == {}


def test_every_planted_mistake_fails(errors: dict[Path, dict[int, list[str]]]) -> None:
    mistakes = marked(MISTAKES, "MISTAKE")
    assert len(mistakes) >= 15
    missed = {n: what for n, what in mistakes.items() if n not in errors[MISTAKES]}
    assert missed == {}, f"mypy --strict accepted these mistakes: {missed}"


def test_the_auth_state_mistake_fails_once_typed(
    errors: dict[Path, dict[int, list[str]]],
) -> None:
    once_typed = marked(MISTAKES, "MISTAKE-ONCE-TYPED")
    assert once_typed
    if not auth_state_is_typed():
        pytest.skip("use_multi_file_auth_state still returns Any")
    missed = {n: what for n, what in once_typed.items() if n not in errors[MISTAKES]}
    assert missed == {}


def test_no_error_outside_the_marked_lines(errors: dict[Path, dict[int, list[str]]]) -> None:
    allowed = set(marked(MISTAKES, "MISTAKE")) | set(marked(MISTAKES, "MISTAKE-ONCE-TYPED"))
    stray = {n: texts for n, texts in errors[MISTAKES].items() if n not in allowed}
    assert stray == {}
