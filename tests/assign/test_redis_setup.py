"""The Redis test setup says why it cannot run, rather than failing or hanging."""

from __future__ import annotations

import pytest

from . import conftest


def test_not_root_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest.sys, "platform", "linux")
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 1000)
    path, reason = conftest._install_redis()
    assert path is None and "not root" in reason


def test_no_apt_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest.sys, "platform", "linux")
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 0)
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    path, reason = conftest._install_redis()
    assert path is None and "apt-get" in reason


def test_other_systems_are_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest.sys, "platform", "darwin")
    path, reason = conftest._install_redis()
    assert path is None and "darwin" in reason
