"""App-state ("syncd") sync, sans-IO: keys, LTHash, MACs, snapshot and patch codecs,
and the actions (mute, archive, contacts, labels ...) as typed changes.

The asyncio side is ``wamd.client.appstate`` (fetching, persisting, writing); the sim's
collection store is ``wamd.sim.appstate``. ``docs/appstate.md`` has the protocol.
"""

from wamd.appstate.codec import (
    Applied,
    CollectionState,
    Mutation,
    MutationSpec,
    decode_patch,
    decode_snapshot,
    encode_patch,
    encode_snapshot,
    encrypt_record,
    needed_key_ids,
)
from wamd.appstate.keys import COLLECTIONS, CollectionName, MutationKeys, expand_keys

__all__ = [
    "COLLECTIONS",
    "Applied",
    "CollectionName",
    "CollectionState",
    "Mutation",
    "MutationKeys",
    "MutationSpec",
    "decode_patch",
    "decode_snapshot",
    "encode_patch",
    "encode_snapshot",
    "encrypt_record",
    "expand_keys",
    "needed_key_ids",
]
