"""The test setup that installs a server or browser says why it cannot, rather than failing or
hanging (tests/apt.py, used for Redis and Chromium)."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from tests.apt import apt_install


def missing() -> bool:
    return False


def test_not_root_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "not root" in apt_install("redis-server", ("redis-server",), missing)


def test_no_apt_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "no apt-get" in apt_install("chromium", ("chromium",), missing)


def test_other_systems_are_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert "darwin" in apt_install("redis-server", ("redis-server",), missing)


def test_what_is_there_needs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")  # would be a reason, were it missing
    assert apt_install("redis-server", ("redis-server",), lambda: True) == ""
