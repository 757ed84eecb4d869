"""What a new user installs: ``python -m build`` output, ``twine check``, and ``pip install .``
in a fresh virtualenv with no C compiler on PATH (every dependency comes as a wheel).

The repository's files are copied to a temporary folder first, so a build leaves nothing in
the work tree. Pip needs the package registry; without it these tests are skipped, saying
so (any other failure fails them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import wamd

ROOT = Path(__file__).resolve().parent.parent
OFFLINE_SIGNS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Could not fetch URL",
    "ProxyError",
)
COMPILERS = ("gcc", "cc", "clang", "c++", "g++", "x86_64-linux-gnu-gcc")


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, **kwargs
    )  # type: ignore[call-overload]
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if any(sign in output for sign in OFFLINE_SIGNS):
            pytest.skip(f"the package registry is unreachable: {output.strip()[-200:]}")
    return result  # type: ignore[no-any-return]


def _copy_source(target: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".results"
    )
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


@dataclass
class Built:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("build")
    source = _copy_source(tmp / "src")
    result = _run([sys.executable, "-m", "build", "--outdir", str(tmp / "dist"), str(source)])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("*.whl")
    (sdist,) = (tmp / "dist").glob("*.tar.gz")
    yield Built(wheel, sdist)


def test_twine_check_passes_on_the_wheel_and_the_sdist(built: Built) -> None:
    result = _run(
        [sys.executable, "-m", "twine", "check", "--strict", str(built.wheel), str(built.sdist)]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_the_wheel_holds_the_package_with_its_types_and_protobuf_modules(built: Built) -> None:
    assert built.wheel.name == f"wamd-{wamd.__version__}-py3-none-any.whl"  # pure Python
    names = set(zipfile.ZipFile(built.wheel).namelist())
    assert "wamd/py.typed" in names
    for proto in (ROOT / "proto").glob("*.proto"):
        assert f"wamd/proto/{proto.stem}_pb2.py" in names
        assert f"wamd/proto/{proto.stem}_pb2.pyi" in names
    assert "wamd/xeddsa.py" in names
    for page in ("index.html", "console.css", "console.js"):  # the sim console's files
        assert f"wamd/sim/console/{page}" in names
    assert not [n for n in names if n.startswith("tests/")]
    metadata = zipfile.ZipFile(built.wheel).read(f"wamd-{wamd.__version__}.dist-info/METADATA")
    text = metadata.decode()
    assert "License-Expression: MIT" in text
    assert "Requires-Dist: pynacl" in text
    assert "Requires-Dist: python-axolotl-curve25519" in text  # ...only in the extra:
    assert 'python-axolotl-curve25519>=0.4.1; extra == "axolotl"' in text


def test_the_sdist_holds_the_schemas_and_the_licence(built: Built) -> None:
    with tarfile.open(built.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "wamd/py.typed"} <= names
    assert "proto/e2e.proto" in names


def test_pip_install_dot_works_without_a_compiler(tmp_path: Path) -> None:
    source = _copy_source(tmp_path / "src")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    path = str(bin_dir)  # nothing else: no gcc, cc, clang, nor Python headers' tools
    for compiler in COMPILERS:
        assert shutil.which(compiler, path=path) is None
    env = {
        "PATH": path,
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "CC": "/nonexistent/cc",  # a setup.py that looks at $CC finds nothing either
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # no cache: a wheel pip once built from source on this machine would hide the compiler
        "PIP_NO_CACHE_DIR": "1",
    }
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONFIG_FILE", "PIP_FIND_LINKS"):
        if name in os.environ:
            env[name] = os.environ[name]
    python = str(bin_dir / "python")
    result = _run([python, "-m", "pip", "install", "."], cwd=source, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    version = _run([str(bin_dir / "wamd"), "--version"], env=env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"wamd {wamd.__version__} (signatures: nacl)"
    check = _run(
        [
            python,
            "-c",
            "from wamd.crypto import generate_keypair, sign, verify; k = generate_keypair(); "
            "assert verify(k.public, b'm', sign(k.private, b'm')); import wamd.client",
        ],
        env=env,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
