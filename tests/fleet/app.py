"""The application the multi-process fleet tests run: ``wamd fleet worker --app tests.fleet.app:setup``.

Every incoming text is written to ``$WAMD_FLEET_TEST_LOG/<worker>.jsonl`` (one ``os.write``
per line, so it survives a SIGKILL) *before* anything else, then answered once with
``wamd.assign``: a message already marked handled (by any worker) is not answered again;
otherwise the reply goes out with a message id derived from the message it answers, and
only then is the message marked handled. A worker killed between the reply and the mark
sends the same reply (same id) again after the takeover: the phone sees one message,
and the tests count distinct reply ids. Closes with 440 are logged too.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from wamd.assign import SQLiteAssignments
from wamd.events import ConnectionUpdate, MessagesUpsert
from wamd.fleet import AccountEvent
from wamd.fleet.worker import FleetWorker


def reply_id(account: str, chat: str, message_id: str) -> str:
    digest = hashlib.sha256(f"{account}\0{chat}\0{message_id}".encode()).hexdigest()
    return "3EB0" + digest[:18].upper()


def setup(worker: FleetWorker) -> None:
    folder = os.environ["WAMD_FLEET_TEST_LOG"]
    fd = os.open(
        os.path.join(folder, f"{worker.name}.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND
    )
    assignments = SQLiteAssignments(os.environ["WAMD_FLEET_TEST_ASSIGN"])

    def write(**record: Any) -> None:
        os.write(fd, (json.dumps(record) + "\n").encode())

    async def answer(event: AccountEvent[MessagesUpsert]) -> None:
        for msg in event.payload.messages:
            if msg.key.from_me or msg.stub_type or not msg.text:
                continue
            chat = msg.key.remote_jid
            write(w=worker.name, a=event.account, id=msg.key.id, text=msg.text)
            if await assignments.handled_by(chat, msg.key.participant, msg.key.id) is not None:
                continue  # answered already (this worker or one before it)
            await event.sock.send_message(
                chat,
                {"text": f"re: {msg.text}"},
                quoted=msg,
                message_id=reply_id(event.account, chat, msg.key.id),
            )
            await assignments.mark_handled(chat, msg.key.participant, msg.key.id, by=worker.name)

    def closes(event: AccountEvent[ConnectionUpdate]) -> None:
        last = event.payload.last_disconnect
        if event.payload.connection == "close" and last is not None and last.status_code == 440:
            write(w=worker.name, a=event.account, replaced=True)

    def dump() -> None:  # SIGUSR1: every task's stack, for a test that hangs
        import asyncio
        import io

        out = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=out)
        os.write(2, out.getvalue().encode())

    import asyncio
    import signal

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)
    worker.fleet.on("messages.upsert", answer)
    worker.fleet.on("connection.update", closes)
