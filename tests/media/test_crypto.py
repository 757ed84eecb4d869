"""Media crypto: key expansion, streaming encryption and every check of the decryptor."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wamd.crypto import hkdf
from wamd.errors import MediaIntegrityError
from wamd.media import (
    MediaDecryptor,
    MediaEncryptor,
    MediaType,
    crypto,
    decrypt_media,
    encrypt_media,
    encrypted_length,
    media_keys,
    media_retry_decrypt,
    media_retry_encrypt,
)
from wamd.media.crypto import THREADED_FROM

KEY = bytes(range(32))


def reference_encrypt(data: bytes, info: str, media_key: bytes) -> bytes:
    """The rule written out with plain primitives (the module docstring's bullets)."""
    expanded = hkdf(media_key, 112, info=info.encode())
    iv, cipher_key, mac_key = expanded[:16], expanded[16:48], expanded[48:80]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).encryptor()
    ciphertext = enc.update(padded) + enc.finalize()
    return ciphertext + hmac.new(mac_key, iv + ciphertext, hashlib.sha256).digest()[:10]


INFOS = {
    MediaType.IMAGE: "WhatsApp Image Keys",
    MediaType.STICKER: "WhatsApp Image Keys",
    MediaType.VIDEO: "WhatsApp Video Keys",
    MediaType.GIF: "WhatsApp Video Keys",
    MediaType.AUDIO: "WhatsApp Audio Keys",
    MediaType.PTT: "WhatsApp Audio Keys",
    MediaType.DOCUMENT: "WhatsApp Document Keys",
    MediaType.HISTORY: "WhatsApp History Keys",
    MediaType.APP_STATE: "WhatsApp App State Keys",
    MediaType.LINK_THUMBNAIL: "WhatsApp Link Thumbnail Keys",
    MediaType.STICKER_PACK: "WhatsApp Sticker Pack Keys",
}


@pytest.mark.parametrize("media_type", list(INFOS))
def test_each_type_encrypts_as_the_rule_says(media_type: MediaType) -> None:
    data = os.urandom(1200)
    blob, fields = encrypt_media(data, media_type, KEY)
    assert blob == reference_encrypt(data, INFOS[media_type], KEY)
    assert len(blob) == 1226 == encrypted_length(1200) == fields.enc_length
    assert fields.file_sha256 == hashlib.sha256(data).digest()
    assert fields.file_enc_sha256 == hashlib.sha256(blob).digest()
    assert fields.file_length == 1200


def test_upload_paths_follow_whatsmeow() -> None:
    assert MediaType.STICKER.mms_type == "image"
    assert MediaType.PTT.mms_type == "audio"
    assert MediaType.HISTORY.mms_type == "md-msg-hist"
    assert MediaType.APP_STATE.mms_type == "md-app-state"
    assert MediaType.parse("app-state") is MediaType.APP_STATE
    with pytest.raises(ValueError, match="unknown media type"):
        MediaType.parse("hologram")


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 255, 4096, 100_003])
@pytest.mark.parametrize("step", [1, 9, 10, 11, 16, 4096])
def test_streaming_round_trip_in_any_chunking(size: int, step: int) -> None:
    if size > 5000 and step < 16:
        pytest.skip("slow and adds nothing")
    data = os.urandom(size)
    enc = MediaEncryptor(MediaType.VIDEO)
    blob = b"".join(enc.update(data[i : i + step]) for i in range(0, size, step)) + enc.finalize()
    fields = enc.result
    for known in (size, None):  # with the file length the MAC's place is known
        dec = MediaDecryptor(
            MediaType.VIDEO,
            fields.media_key,
            file_enc_sha256=fields.file_enc_sha256,
            file_sha256=fields.file_sha256,
            file_length=known,
        )
        out = b"".join(dec.update(blob[i : i + step]) for i in range(0, len(blob), step))
        assert out + dec.finalize() == data


def _decrypt(blob: bytes, **overrides: object) -> bytes:
    data = b"hello media" * 10
    _, fields = encrypt_media(data, MediaType.IMAGE, KEY)
    args: dict[str, object] = {
        "file_enc_sha256": hashlib.sha256(blob).digest(),
        "file_sha256": fields.file_sha256,
        "file_length": len(data),
    }
    args.update(overrides)
    return decrypt_media(blob, MediaType.IMAGE, KEY, **args)  # type: ignore[arg-type]


GOOD = encrypt_media(b"hello media" * 10, MediaType.IMAGE, KEY)[0]


def test_good_blob_decrypts() -> None:
    assert _decrypt(GOOD) == b"hello media" * 10


@pytest.mark.parametrize(
    ("blob", "overrides", "check"),
    [
        (GOOD[:10], {}, "length"),
        (GOOD[:10], {"file_length": None}, "length"),
        (GOOD[:-16], {}, "length"),  # shorter than the file length needs
        (GOOD + b"x" * 16, {}, "length"),  # longer than the file length allows
        (GOOD, {"file_enc_sha256": b"\0" * 32}, "file_enc_sha256"),
        (GOOD[:5] + bytes([GOOD[5] ^ 1]) + GOOD[6:], {}, "mac"),
        (GOOD[:-1] + bytes([GOOD[-1] ^ 1]), {}, "mac"),
        (GOOD, {"file_sha256": b"\0" * 32}, "file_sha256"),
        (GOOD, {"file_length": 109}, "file_length"),
    ],
)
def test_each_failed_check_is_named(blob: bytes, overrides: dict[str, object], check: str) -> None:
    with pytest.raises(MediaIntegrityError) as caught:
        _decrypt(blob, **overrides)
    assert caught.value.check == check


def test_bad_padding_behind_a_good_mac_is_named() -> None:
    # a blob whose MAC is right but whose plaintext padding is not (an encryptor bug)
    keys = media_keys(KEY, MediaType.IMAGE)
    enc = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).encryptor()
    ciphertext = enc.update(b"A" * 32) + enc.finalize()  # no padding block
    blob = ciphertext + hmac.new(keys.mac_key, keys.iv + ciphertext, hashlib.sha256).digest()[:10]
    with pytest.raises(MediaIntegrityError) as caught:
        decrypt_media(blob, MediaType.IMAGE, KEY, file_enc_sha256=None, file_sha256=None)
    assert caught.value.check == "padding"
    ragged = ciphertext[:-3]
    blob = ragged + hmac.new(keys.mac_key, keys.iv + ragged, hashlib.sha256).digest()[:10]
    with pytest.raises(MediaIntegrityError) as caught:
        decrypt_media(blob, MediaType.IMAGE, KEY, file_enc_sha256=None, file_sha256=None)
    assert caught.value.check == "padding"


def test_wrong_type_fails_the_mac() -> None:
    blob, fields = encrypt_media(b"x" * 100, MediaType.AUDIO, KEY)
    with pytest.raises(MediaIntegrityError) as caught:
        decrypt_media(
            blob, MediaType.DOCUMENT, KEY, file_enc_sha256=fields.file_enc_sha256, file_sha256=None
        )
    assert caught.value.check == "mac"


def test_no_key_in_repr_or_errors() -> None:
    enc = MediaEncryptor(MediaType.IMAGE, KEY)
    enc.update(b"abc")
    enc.finalize()
    shown = repr(enc) + repr(enc.result) + repr(media_keys(KEY, MediaType.IMAGE))
    assert KEY.hex() not in shown and repr(KEY) not in shown
    assert media_keys(KEY, MediaType.IMAGE).cipher_key.hex() not in shown
    with pytest.raises(MediaIntegrityError) as caught:
        _decrypt(GOOD, file_sha256=b"\0" * 32)
    assert KEY.hex() not in str(caught.value)


def test_media_retry_payload_round_trip_and_binding() -> None:
    ciphertext, iv = media_retry_encrypt(KEY, "3EB0ABC", b"payload")
    assert len(iv) == 12
    assert media_retry_decrypt(KEY, "3EB0ABC", ciphertext, iv) == b"payload"
    with pytest.raises(MediaIntegrityError):
        media_retry_decrypt(KEY, "3EB0OTHER", ciphertext, iv)  # the id is bound as AAD
    with pytest.raises(MediaIntegrityError):
        media_retry_decrypt(bytes(32), "3EB0ABC", ciphertext, iv)


def test_wrong_key_length_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        media_keys(b"short", MediaType.IMAGE)


# -------------------------------------------- big blobs: hashes computed on worker threads

BIG = [THREADED_FROM - 1, THREADED_FROM, THREADED_FROM + 17, 3 * THREADED_FROM * 4 + 5]


@pytest.mark.parametrize("size", BIG)
@pytest.mark.parametrize("step", [65_536, 300_001])
def test_big_blobs_round_trip_with_the_right_fields(size: int, step: int) -> None:
    data = os.urandom(size)
    enc = MediaEncryptor(MediaType.DOCUMENT, KEY)
    blob = b"".join(enc.update(data[i : i + step]) for i in range(0, size, step)) + enc.finalize()
    assert blob == reference_encrypt(data, "WhatsApp Document Keys", KEY)
    fields = enc.result
    assert fields.file_sha256 == hashlib.sha256(data).digest()
    assert fields.file_enc_sha256 == hashlib.sha256(blob).digest()
    for known in (size, None):
        dec = MediaDecryptor(
            MediaType.DOCUMENT,
            KEY,
            file_enc_sha256=fields.file_enc_sha256,
            file_sha256=fields.file_sha256,
            file_length=known,
        )
        view = memoryview(blob)
        out = b"".join(dec.update(view[i : i + step]) for i in range(0, len(blob), step))
        assert out + dec.finalize() == data


@pytest.mark.parametrize("check", ["file_enc_sha256", "mac", "file_sha256"])
def test_big_blob_failures_are_named(check: str) -> None:
    data = os.urandom(2 * THREADED_FROM + 3)
    blob, fields = encrypt_media(data, MediaType.VIDEO, KEY)
    want_enc, want_plain = fields.file_enc_sha256, fields.file_sha256
    if check == "file_enc_sha256":
        want_enc = hashlib.sha256(b"other").digest()
    elif check == "mac":
        blob = blob[:1000] + bytes([blob[1000] ^ 1]) + blob[1001:]
        want_enc = hashlib.sha256(blob).digest()
    else:
        want_plain = hashlib.sha256(b"other").digest()
    with pytest.raises(MediaIntegrityError) as caught:
        decrypt_media(
            blob,
            MediaType.VIDEO,
            KEY,
            file_enc_sha256=want_enc,
            file_sha256=want_plain,
            file_length=len(data),
        )
    assert caught.value.check == check


def test_a_reused_buffer_is_hashed_as_it_was_when_given() -> None:
    """The caller may overwrite its buffer once ``update`` returns, even while the worker
    threads are still behind (they are held here until every chunk is in)."""
    gate = threading.Event()
    for index in (0, 1):  # both workers wait on the gate before any of the chunks below
        lane = crypto._HashLane(index)
        lane.slots.acquire()
        crypto._worker(index).jobs.put((lambda _: gate.wait(5), b"", lane))
    data = os.urandom(4 * THREADED_FROM)
    enc = MediaEncryptor(MediaType.IMAGE, KEY)
    buffer = bytearray(THREADED_FROM)
    parts = []
    for i in range(0, len(data), THREADED_FROM):
        buffer[:] = data[i : i + THREADED_FROM]
        parts.append(enc.update(buffer))
        buffer[:] = bytes(THREADED_FROM)  # reused at once
    gate.set()
    parts.append(enc.finalize())
    assert enc.result.file_sha256 == hashlib.sha256(data).digest()
    assert b"".join(parts) == reference_encrypt(data, "WhatsApp Image Keys", KEY)
