"""Shared pieces of the app-state tests: a fixed key, mutation specs, Baileys in node."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from wamd.appstate import MutationSpec, expand_keys
from wamd.proto import sync_action_pb2

KEY_ID = bytes.fromhex("00000000a1b2")
KEY_DATA = bytes(range(32))
KEYS = {KEY_ID: expand_keys(KEY_DATA)}
SCRIPT = Path(__file__).with_name("baileys_appstate.js")
ALICE = "15550002222@s.whatsapp.net"
BOB = "15550003333@s.whatsapp.net"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def mute(jid: str, until: int) -> MutationSpec:
    value = sync_action_pb2.SyncActionValue(
        muteAction=sync_action_pb2.MuteAction(muted=True, muteEndTimestamp=until)
    )
    return MutationSpec(("mute", jid), value, 2)


def archive(jid: str, archived: bool = True) -> MutationSpec:
    value = sync_action_pb2.SyncActionValue(
        archiveChatAction=sync_action_pb2.ArchiveChatAction(archived=archived)
    )
    return MutationSpec(("archive", jid), value, 3)


def contact(jid: str, name: str, remove: bool = False) -> MutationSpec:
    value = sync_action_pb2.SyncActionValue(
        contactAction=sync_action_pb2.ContactAction(fullName=name, firstName=name.split()[0])
    )
    return MutationSpec(("contact", jid), value, 2, "remove" if remove else "set")


def run_baileys(request: dict[str, Any]) -> dict[str, Any]:
    """Run ``baileys_appstate.js`` on one request (skips when Baileys cannot be had)."""
    from tests.interop.conftest import baileys_modules

    modules = baileys_modules()
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        env={"NODE_PATH": str(modules), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer
