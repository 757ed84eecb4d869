"""What ``import wamd`` offers a user coming from Baileys' README."""

from __future__ import annotations

import wamd


def test_the_top_level_names_a_bot_needs() -> None:
    for name in (
        "make_wa_socket",
        "run_forever",
        "use_multi_file_auth_state",
        "use_sqlite_auth_state",
        "DisconnectReason",
        "WAMessage",
        "MessageKey",
        "MessagesUpsert",
        "ConnectionUpdate",
        "fetch_latest_version",
    ):
        assert name in wamd.__all__ and getattr(wamd, name) is not None
    assert wamd.DisconnectReason.LOGGED_OUT == 401
