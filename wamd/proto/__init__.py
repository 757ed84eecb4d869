"""Generated protobuf modules. Source of truth: ``proto/*.proto``; regenerate with
``python scripts/gen_proto.py`` (a test fails when these drift from the sources).

- ``wa6_pb2``: HandshakeMessage (Noise), ClientPayload (UserAgent, WebInfo, pairing data)
- ``cert_pb2``: the server's Noise certificate chain
- ``companion_reg_pb2``: DeviceProps and the phone-number pairing messages
- ``adv_pb2``: ADV identities (how the primary vouches for a companion)
- ``signal_pb2``: Signal wire messages (SignalMessage, PreKeySignalMessage, sender keys)
- ``common_pb2``, ``e2e_pb2``, ``web_pb2``: MessageKey, the E2E ``Message``, WebMessageInfo
- ``history_sync_pb2``, ``sync_action_pb2``, ``server_sync_pb2``: history sync and app state
"""
