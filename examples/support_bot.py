"""Customer-service bot: one WhatsApp number shared by a bot and human agents.

Built on ``wamd.assign`` (see ``docs/assign.md``):

- a customer writes in a 1:1 chat: the bot answers with a menu; ``1`` opening hours,
  ``2`` order status, ``0`` a person;
- ``0``: the chat is assigned to the least busy agent (``--agent``, repeatable) and the
  customer told who will answer; the bot stays quiet in that chat while it is held;
- an agent writes to a customer from their own phone or linked device: the chat is
  taken over automatically, and the bot stays quiet for ``--takeover-minutes`` after each
  agent message (the ``Desk``). An agent hands a chat back by writing ``#bot NUMBER``
  (the customer's number) in the account's chat with itself ("Message yourself"), which
  no customer sees; ``#bot`` written in the customer's chat works too, but the phone
  delivers it there, so the bot deletes it for everyone at once;
- several bot processes (each its own linked device of the account) may run with the
  same ``--desk`` file: each customer message is answered by exactly one of them.

Run it like ``examples/echo_bot.py`` (``--auth-dir``, ``--sim-url``, ``--sim-root-key``)::

    python examples/support_bot.py --agent Dana --agent Sam --admin 15551234567:2@s.whatsapp.net=Dana
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Mapping, Sequence

from wamd import (
    WASocket,
    run_forever,
    use_multi_file_auth_state,
)
from wamd.assign import AssignmentBackend, Claim, Desk, LeastLoaded, SQLiteAssignments
from wamd.events import MessagesUpsert
from wamd.messaging.types import WAMessage
from wamd.quickstart import add_arguments, configure_logging, say, socket_options, status_socket

MENU = "Hello! Reply with a number:\n1 opening hours\n2 order status\n0 talk to a person"
ANSWERS = {
    "1": "We are open Monday to Friday, 9:00 to 17:00.",
    "2": "Send us your order number and we will look it up.",
}
HAND_BACK = "#bot"  # "#bot NUMBER" in the account's own chat gives a chat back to the bot


def setup(
    sock: WASocket,
    assignments: AssignmentBackend,
    *,
    agents: Sequence[str],
    admins: Mapping[str, str] | None = None,
    takeover_ttl: float = 30 * 60.0,
    say: Callable[[str], None] = lambda text: None,
) -> Desk:
    """Register the support bot on ``sock``; returns its ``Desk``."""

    def on_takeover(claim: Claim, msg: WAMessage) -> None:
        say(f"{claim.handler} took over {claim.chat}: the bot is quiet there")

    desk = Desk(
        sock,
        assignments,
        name="bot",
        admins=admins,
        takeover_ttl=takeover_ttl,
        on_takeover=on_takeover,
    )

    @desk.once
    async def on_customer(upsert: MessagesUpsert) -> None:
        for msg in upsert.messages:
            chat = msg.key.remote_jid
            if not chat.endswith("@s.whatsapp.net") and not chat.endswith("@lid"):
                continue  # customers write 1:1; groups, status and channels are not ours
            choice = (msg.text or "").strip()
            if choice == "0" and agents:
                claim = await assignments.assign(chat, agents, takeover_ttl, policy=LeastLoaded())
                if claim is not None:
                    text = f"{claim.handler} will answer you here shortly."
                    await desk.reply(msg, {"text": text}, force=True)  # the agent holds it now
                    say(f"{chat} assigned to {claim.handler}")
                    continue
                await desk.reply(msg, {"text": "Nobody is available; please try later."})
            else:
                await desk.reply(msg, {"text": ANSWERS.get(choice, MENU)})

    def own_chat(chat: str) -> bool:
        """The account's chat with itself ("Message yourself"): seen by no customer."""
        me = sock.user
        mine = (
            {jid.split(":", 1)[0].split("@", 1)[0] for jid in (me.id, me.lid or "")}
            if me
            else set()
        )
        return chat.split("@", 1)[0] in mine - {""}

    async def on_agent(upsert: MessagesUpsert) -> None:
        for msg in upsert.messages:
            words = (msg.text or "").split()
            if not msg.key.from_me or words[:1] != [HAND_BACK]:
                continue
            chat = msg.key.remote_jid
            if own_chat(chat):
                # "#bot NUMBER" in the account's own chat: the customer sees nothing
                if len(words) == 2 and words[1].lstrip("+").isdigit():
                    customer = f"{words[1].lstrip('+')}@s.whatsapp.net"
                    if await desk.hand_back(customer):
                        say(f"{customer} handed back to the bot")
                continue
            if len(words) != 1:
                continue
            # "#bot" in the customer's chat works too, but the phone delivered it there:
            # judged (a takeover) first, then released, then deleted for everyone
            await desk.observe(msg, upsert.type)
            if await desk.hand_back(chat):
                say(f"{chat} handed back to the bot")
            await sock.send_message(chat, {"delete": msg.key})

    sock.ev.on("messages.upsert", on_customer)
    sock.ev.on("messages.upsert", on_agent)
    return desk


def _admin(text: str) -> tuple[str, str]:
    device, sep, name = text.partition("=")
    if not sep or not device or not name:
        raise argparse.ArgumentTypeError("an admin is DEVICE_JID=NAME")
    return device, name


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--auth-dir", default="auth_info", help="auth state folder (auth_info)")
    parser.add_argument("--desk", default="desk.sqlite", help="shared assignments (SQLite file)")
    parser.add_argument("--agent", action="append", default=[], help="an agent's name")
    parser.add_argument(
        "--admin",
        action="append",
        default=[],
        type=_admin,
        metavar="DEVICE=NAME",
        help="name an agent's linked device, e.g. 15551234567:2@s.whatsapp.net=Dana",
    )
    parser.add_argument("--takeover-minutes", type=float, default=30.0)
    add_arguments(parser)  # --sim-url, --sim-root-key (or WAMD_SIM_* variables), -v/-vv
    args = parser.parse_args()
    options = socket_options(args, parser)  # {} for WhatsApp, the sim's url and key otherwise
    configure_logging(args)
    state, save_creds = await use_multi_file_auth_state(args.auth_dir)
    assignments = SQLiteAssignments(args.desk)
    await assignments.open()
    desks: list[Desk] = []

    def start_socket() -> WASocket:
        sock = status_socket(
            state, save_creds, options, logged_out=f"delete {args.auth_dir} and run again"
        )  # QR, creds, status lines
        if desks:
            desks.pop().close()
        desks.append(
            setup(
                sock,
                assignments,
                agents=args.agent,
                admins=dict(args.admin),
                takeover_ttl=args.takeover_minutes * 60,
                say=say,
            )
        )
        return sock

    try:
        await run_forever(start_socket)
    finally:
        await assignments.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
