"""Group bot: commands in groups, a welcome for new members, a hello when added.

In any group the account is in:

- ``!help``: the commands;
- ``!ping``: ``pong``, quoting the command;
- ``!members``: the member list, each member @-mentioned (admins marked);
- ``!subject <text>``: renames the group (only works when the bot is a group admin);
- someone joins: ``Welcome, @member!``; the bot is added to a new group: a hello.

Messages outside groups, the account's own messages and anything that is not a ``!``
command are ignored. Run it like ``examples/echo_bot.py`` (``--auth-dir``, ``--sim-url``,
``--sim-root-key``); it prints a few status lines.
"""

from __future__ import annotations

import argparse
import asyncio

from wamd import (
    WamdError,
    WASocket,
    run_forever,
    use_multi_file_auth_state,
)
from wamd.events import MessagesUpsert
from wamd.messaging.types import GroupMetadata, GroupParticipantsUpdate, WAMessage
from wamd.quickstart import add_arguments, configure_logging, socket_options, status_socket

HELP = "Commands: !ping, !members, !subject <new name>, !help"


def mention(jid: str) -> str:
    """How a mention reads in the text: ``@`` and the user part of the JID."""
    return "@" + jid.split("@", 1)[0].split(":", 1)[0]


def setup(sock: WASocket) -> None:
    """Register the group bot's handlers on ``sock``."""

    async def on_messages(upsert: MessagesUpsert) -> None:
        for msg in upsert.messages:
            chat = msg.key.remote_jid
            text = (msg.text or "").strip()
            if msg.key.from_me or not chat.endswith("@g.us") or not text.startswith("!"):
                continue
            command, _, rest = text.partition(" ")
            try:
                await answer(msg, command.lower(), rest.strip())
            except WamdError as exc:
                await sock.send_message(chat, {"text": f"That did not work: {exc}"}, quoted=msg)

    async def answer(msg: WAMessage, command: str, rest: str) -> None:
        chat = msg.key.remote_jid
        if command == "!ping":
            await sock.send_message(chat, {"text": "pong"}, quoted=msg)
        elif command == "!members":
            group = await sock.group_metadata(chat)
            lines = [f"{group.subject}: {len(group.participants)} members"]
            for member in group.participants:
                lines.append(mention(member.id) + (f" ({member.admin})" if member.admin else ""))
            mentions = [member.id for member in group.participants]
            await sock.send_message(chat, {"text": "\n".join(lines)}, quoted=msg, mentions=mentions)
        elif command == "!subject":
            if not rest:
                await sock.send_message(chat, {"text": "Usage: !subject <new name>"}, quoted=msg)
                return
            await sock.group_update_subject(chat, rest)
            await sock.send_message(chat, {"text": f"Renamed to {rest}"}, quoted=msg)
        elif command == "!help":
            await sock.send_message(chat, {"text": HELP}, quoted=msg)

    async def on_participants(update: GroupParticipantsUpdate) -> None:
        me = sock.user
        own = me.id.split(":", 1)[0].split("@", 1)[0] if me is not None else None
        if update.action != "add":
            return
        newcomers = [jid for jid in update.participants if mention(jid)[1:] != own]
        if len(newcomers) < len(update.participants):  # we were added to a group
            await on_new_groups([await sock.group_metadata(update.id)])
        if newcomers:
            names = ", ".join(mention(jid) for jid in newcomers)
            await sock.send_message(update.id, {"text": f"Welcome, {names}!"}, mentions=newcomers)

    async def on_new_groups(groups: list[GroupMetadata]) -> None:
        for group in groups:
            await sock.send_message(group.id, {"text": f"Hello {group.subject}! {HELP}"})

    sock.ev.on("messages.upsert", on_messages)
    sock.ev.on("group-participants.update", on_participants)
    sock.ev.on("groups.upsert", on_new_groups)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--auth-dir", default="auth_info", help="auth state folder (auth_info)")
    add_arguments(parser)  # --sim-url, --sim-root-key (or WAMD_SIM_* variables), -v/-vv
    args = parser.parse_args()
    options = socket_options(args, parser)  # {} for WhatsApp, the sim's url and key otherwise
    configure_logging(args)
    state, save_creds = await use_multi_file_auth_state(args.auth_dir)

    def start_socket() -> WASocket:
        sock = status_socket(
            state, save_creds, options, logged_out=f"delete {args.auth_dir} and run again"
        )  # QR, creds, status lines
        setup(sock)
        return sock

    await run_forever(start_socket)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
