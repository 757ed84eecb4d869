from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wamd.errors import CorruptedStore
from wamd.store import (
    AuthenticationCreds,
    Me,
    init_auth_creds,
    use_multi_file_auth_state,
    use_sqlite_auth_state,
)
from wamd.store.serialize import dumps, loads


def test_fresh_creds_are_valid() -> None:
    creds = init_auth_creds()
    assert 1 <= creds.registration_id <= 16380
    assert creds.signed_pre_key.key_id == 1 and creds.signed_pre_key.verify(
        creds.signed_identity_key.public
    )
    assert len(creds.adv_secret_key) == 32 and creds.me is None and not creds.registered
    assert "private" not in repr(creds) and creds.noise_key.private.hex() not in repr(creds)


def test_json_round_trip_is_exact_and_baileys_shaped() -> None:
    creds = init_auth_creds()
    creds.me = Me("15551234567:3@s.whatsapp.net", "123:3@lid", "Bot")
    creds.account = b"\x0a\x01x"
    creds.routing_info = b"\x01\x02"
    data = json.loads(dumps(creds.to_json()))
    assert data["noiseKey"]["public"]["type"] == "Buffer"
    assert data["signedPreKey"]["keyId"] == 1 and isinstance(data["advSecretKey"], str)
    again = AuthenticationCreds.from_json(data)
    assert again == creds


def test_reads_baileys_account_object_form() -> None:
    creds = init_auth_creds()
    data = creds.to_json()
    data["account"] = {
        "details": {"type": "Buffer", "data": "CgF4"},
        "accountSignatureKey": {"type": "Buffer", "data": "AA=="},
    }
    assert AuthenticationCreds.from_json(data).account == b"\x0a\x03\x0a\x01x\x12\x01\x00"


@pytest.mark.parametrize("mutilate", ["drop-noise", "bad-adv", "not-object"])
def test_malformed_creds(mutilate: str) -> None:
    data = init_auth_creds().to_json()
    if mutilate == "drop-noise":
        del data["noiseKey"]
    elif mutilate == "bad-adv":
        data["advSecretKey"] = "!!"
    else:
        data = ["nope"]  # type: ignore[assignment]
    with pytest.raises(CorruptedStore, match="creds"):
        AuthenticationCreds.from_json(data)


def test_loads_names_location() -> None:
    with pytest.raises(CorruptedStore, match=r"here\.json"):
        loads(b'{"type":"Buffer","data":"@@"}', "here.json")
    with pytest.raises(CorruptedStore, match=r"here\.json"):
        loads(b"{trunc", "here.json")


async def test_multi_file_state_persists_and_refuses_corruption(tmp_path: Path) -> None:
    folder = tmp_path / "auth_info"
    state, save_creds = await use_multi_file_auth_state(folder)
    state.creds.me = Me("1@s.whatsapp.net")
    await save_creds({"me": state.creds.me})
    again, _ = await use_multi_file_auth_state(folder)
    assert again.creds == state.creds
    (folder / "creds.json").write_bytes((folder / "creds.json").read_bytes()[:40])
    with pytest.raises(CorruptedStore, match=r"creds\.json"):
        await use_multi_file_auth_state(folder)
    assert (folder / "creds.json").stat().st_size == 40  # left as it was, not replaced


async def test_sqlite_state_persists_and_refuses_corruption(tmp_path: Path) -> None:
    path = tmp_path / "auth.sqlite"
    state, save_creds = await use_sqlite_auth_state(path)
    state.creds.registered = True
    await save_creds()
    await state.keys.close()  # type: ignore[attr-defined]
    again, _ = await use_sqlite_auth_state(path)
    assert again.creds == state.creds
    await again.keys.set({"session": {"a": b"x"}})
    db = again.keys.db  # type: ignore[attr-defined]
    await again.keys._run(lambda: db.execute("UPDATE keys SET value = '{broken' WHERE id = 'a'"))  # type: ignore[attr-defined]
    with pytest.raises(CorruptedStore, match="session/a"):
        await again.keys.get("session", ["a"])
    await again.keys._run(lambda: db.execute("UPDATE creds SET value = '[1]'"))  # type: ignore[attr-defined]
    await again.keys.close()  # type: ignore[attr-defined]
    with pytest.raises(CorruptedStore, match="creds"):
        await use_sqlite_auth_state(path)


async def test_a_folder_of_keys_without_creds_json_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "auth_info"
    state, _ = await use_multi_file_auth_state(folder)
    await state.keys.set({"session": {"15550002222.0": b"s"}, "pre-key": {"1": b"p"}})
    (folder / "creds.json").unlink()  # lost: the keys belong to the identity it held
    keys_before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(
        CorruptedStore, match=r"creds\.json: missing, but the folder holds 2 key files"
    ) as info:
        await use_multi_file_auth_state(folder)
    assert "pre-key-1.json" in str(info.value) and "wamd pair --reset" in str(info.value)
    assert sorted(p.name for p in folder.iterdir()) == keys_before  # no new identity written
    assert not (folder / "creds.json").exists()


async def test_an_empty_folder_or_one_with_only_its_lock_pairs_afresh(tmp_path: Path) -> None:
    folder = tmp_path / "auth_info"
    folder.mkdir()
    (folder / ".lock").write_bytes(b"")
    state, _ = await use_multi_file_auth_state(folder)
    assert state.creds.me is None and (folder / "creds.json").exists()


async def test_sqlite_checks_a_many_account_file_once_while_this_process_has_it_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # quick_check reads the whole file: once per account made opening N accounts O(N^2)
    from wamd.store import sqlite

    checks: list[str] = []
    real = sqlite.check_integrity

    def counted(db: Any, location: str) -> None:
        checks.append(location)
        real(db, location)

    monkeypatch.setattr(sqlite, "check_integrity", counted)
    path = tmp_path / "fleet.sqlite"
    states = [(await use_sqlite_auth_state(path, account=f"bot-{i}"))[0] for i in range(3)]
    assert checks == [str(path)]
    for state in states:
        await state.keys.close()  # type: ignore[attr-defined]
    again, _ = await use_sqlite_auth_state(path, account="bot-0")  # none open: checked again
    assert checks == [str(path)] * 2
    await again.keys.close()  # type: ignore[attr-defined]
    other, _ = await use_sqlite_auth_state(tmp_path / "other.sqlite")  # another file: its own
    assert checks == [str(path)] * 2 + [str(tmp_path / "other.sqlite")]
    await other.keys.close()  # type: ignore[attr-defined]


async def test_sqlite_checks_its_integrity_on_open(tmp_path: Path) -> None:
    path = tmp_path / "auth.sqlite"
    state, save_creds = await use_sqlite_auth_state(path)
    await save_creds()
    await state.keys.set({"session": {f"1555000{i:04}.0": bytes(300) for i in range(200)}})
    await state.keys.close()  # type: ignore[attr-defined]
    again, _ = await use_sqlite_auth_state(path)  # a sound file opens
    await again.keys.close()  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[5 * page] ^= 0xFF  # the type byte of a b-tree page in the middle of the file
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptedStore, match="integrity check failed") as info:
        await use_sqlite_auth_state(path)
    assert str(path) in str(info.value) and "wamd pair --reset" in str(info.value)
    path.write_bytes(b"this is not a database" + bytes(5000))
    with pytest.raises(CorruptedStore, match=r"integrity check failed \(file is not a database"):
        await use_sqlite_auth_state(path)
