"""Media throughput and memory: encrypt+upload and download+decrypt, 1 MB and 100 MB.

    python bench/media.py [--sizes 1,100] [--repeat 3]

For each size it prints four rates and the peak memory of the transfers:

- ``raw``: AES-256-CBC with ``cryptography`` plus HMAC-SHA256 over the same data, in
  the same chunks: the floor any implementation pays (the target: wamd's crypto at 80 %);
- ``same job``: the same primitives doing everything the protocol asks (AES-CBC, HMAC,
  and SHA-256 of the plaintext and of the blob, which the message fields need and every
  download checks): the floor for this job, so wamd's own overhead is the gap to it;
- ``crypto``: wamd's ``MediaEncryptor``/``MediaDecryptor`` alone;
- ``transfer``: the whole path — a file read chunk by chunk, encrypted into the spool,
  uploaded over HTTPS to a sim media host running in *another process*, then downloaded,
  checked and decrypted into a file — as ``send_message``/``download_media`` run it;
- ``peak``: the growth of this process's peak RSS over a baseline taken after a warm-up
  transfer, measured in a fresh child process per size (the bound: 20 MB above baseline).

Rates are MB/s of plaintext (1 MB = 10^6 bytes). Runs on loopback; nothing leaves the
machine. Not a test: numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py would shadow the standard library's ``signal`` (asyncio imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

MB = 1_000_000
CHUNK = 256 * 1024


def raw_encrypt(data: bytes, key: bytes, iv: bytes, mac_key: bytes) -> bytes:
    """AES-256-CBC (PKCS#7) and HMAC-SHA256 in CHUNK pieces: the floor."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    mac = hmac.new(mac_key, iv, hashlib.sha256)
    parts = []
    for i in range(0, len(data), CHUNK):
        out = cipher.update(data[i : i + CHUNK])
        mac.update(out)
        parts.append(out)
    pad = 16 - len(data) % 16
    out = cipher.update(bytes([pad]) * pad) + cipher.finalize()
    mac.update(out)
    parts.append(out)
    return b"".join(parts) + mac.digest()[:10]


def raw_decrypt(blob: bytes, key: bytes, iv: bytes, mac_key: bytes) -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    mac = hmac.new(mac_key, iv, hashlib.sha256)
    body = memoryview(blob)[:-10]
    for i in range(0, len(body), CHUNK):
        chunk = body[i : i + CHUNK]
        mac.update(chunk)
        cipher.update(chunk)
    cipher.finalize()
    mac.digest()


def raw_same_work(data: bytes, key: bytes, iv: bytes, mac_key: bytes) -> None:
    """What wamd's encryptor does, written with the primitives: the raw cost of the job."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    mac = hmac.new(mac_key, iv, hashlib.sha256)
    plain, enc = hashlib.sha256(), hashlib.sha256()
    for i in range(0, len(data), CHUNK):
        chunk = data[i : i + CHUNK]
        plain.update(chunk)
        out = cipher.update(chunk)
        mac.update(out)
        enc.update(out)
    pad = 16 - len(data) % 16
    out = cipher.update(bytes([pad]) * pad) + cipher.finalize()
    mac.update(out)
    enc.update(out + mac.digest()[:10])
    plain.digest()
    enc.digest()


def raw_same_decrypt(blob: bytes, key: bytes, iv: bytes, mac_key: bytes) -> None:
    """What wamd's decryptor does (blob hash, MAC, AES, plaintext hash), with primitives."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    mac = hmac.new(mac_key, iv, hashlib.sha256)
    plain, enc = hashlib.sha256(), hashlib.sha256(blob)
    body = memoryview(blob)[:-10]
    for i in range(0, len(body), CHUNK):
        chunk = body[i : i + CHUNK]
        mac.update(chunk)
        plain.update(cipher.update(chunk))
    cipher.finalize()
    mac.digest()
    plain.digest()
    enc.digest()


def crypto_rates(data: bytes, repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` rates, raw and wamd taking turns on the same data (the machine's
    load changes from second to second; turns keep the comparison fair)."""
    from wamd.media import MediaDecryptor, MediaEncryptor, MediaType

    key, iv, mac_key = os.urandom(32), os.urandom(16), os.urandom(32)
    times: dict[str, list[float]] = {
        "raw_enc": [],
        "raw_dec": [],
        "same_enc": [],
        "same_dec": [],
        "enc": [],
        "dec": [],
    }
    raw_blob = raw_encrypt(data, key, iv, mac_key)
    blob, fields = b"", None
    for _ in range(repeat):
        start = time.perf_counter()
        raw_blob = raw_encrypt(data, key, iv, mac_key)
        times["raw_enc"].append(time.perf_counter() - start)
        start = time.perf_counter()
        raw_same_work(data, key, iv, mac_key)
        times["same_enc"].append(time.perf_counter() - start)
        start = time.perf_counter()
        enc = MediaEncryptor(MediaType.VIDEO)
        parts = [enc.update(data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)]
        parts.append(enc.finalize())
        times["enc"].append(time.perf_counter() - start)
        blob, fields = b"".join(parts), enc.result
        start = time.perf_counter()
        raw_decrypt(raw_blob, key, iv, mac_key)
        times["raw_dec"].append(time.perf_counter() - start)
        start = time.perf_counter()
        raw_same_decrypt(raw_blob, key, iv, mac_key)
        times["same_dec"].append(time.perf_counter() - start)
        start = time.perf_counter()
        dec = MediaDecryptor(
            MediaType.VIDEO,
            fields.media_key,
            file_enc_sha256=fields.file_enc_sha256,
            file_sha256=fields.file_sha256,
            file_length=fields.file_length,
        )
        view = memoryview(blob)
        for i in range(0, len(view), CHUNK):
            dec.update(view[i : i + CHUNK])
        dec.finalize()
        times["dec"].append(time.perf_counter() - start)
    size = len(data) / MB
    return {name: size / min(values) for name, values in times.items()}


# ---------------------------------------------------------------------- the host process

HOST_SCRIPT = """
import asyncio, json, random, sys, time
from wamd.sim.media import SimMediaHost
from wamd.sim.state import SimState

async def main():
    state = SimState(clock=time.time, rng=random.Random(1), host="127.0.0.1")
    host = SimMediaHost(state)
    await host.start()
    print(json.dumps({"host": host.hostname, "auth": state.media_auth,
                      "ca": str(host.tls.ca_path)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await host.stop()

asyncio.run(main())
"""


def _status(field: str) -> float:
    """A /proc/self/status field in MB (VmRSS now, VmHWM the peak since the last reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Start VmHWM again from the current RSS (Linux: 5 > /proc/self/clear_refs). A
    child's ru_maxrss would not do: it keeps the parent's peak across fork and exec."""
    Path("/proc/self/clear_refs").write_text("5")


async def transfer_child(size: int, host: str, auth: str, ca: str, repeat: int) -> dict[str, float]:
    """In a child process: warm up, take the baseline, then time the transfers."""
    import ssl

    from wamd.client.media import PathTarget, spool_source
    from wamd.media import MediaType
    from wamd.media.transfer import MediaClient, MediaConn, MediaHost, download_blob

    client = MediaClient(ssl=ssl.create_default_context(cafile=ca))
    conn = MediaConn(auth, 300, 21600, 12, (MediaHost(host),))

    async def media_conn(force: bool) -> MediaConn:
        return conn

    work = Path(tempfile.mkdtemp(prefix="wamd-bench-"))
    source = work / "plain.bin"
    with source.open("wb") as out:
        for _ in range(size // MB):
            out.write(os.urandom(MB))
    target = work / "out.bin"

    async def once(path: Path) -> tuple[float, float]:
        start = time.perf_counter()
        spooled = await spool_source(path, MediaType.VIDEO)
        try:
            result = await client.upload(
                media_conn,
                lambda: spooled.body(None),
                spooled.fields.enc_length,
                spooled.fields.file_enc_sha256,
                MediaType.VIDEO,
            )
        finally:
            spooled.close()
        up = time.perf_counter() - start
        fields = spooled.fields
        start = time.perf_counter()
        sink = PathTarget(target)
        await sink.open()
        await download_blob(
            client,
            conn,
            direct_path=result.direct_path,
            media_key=fields.media_key,
            file_enc_sha256=fields.file_enc_sha256,
            file_sha256=fields.file_sha256,
            file_length=fields.file_length,
            media_type=MediaType.VIDEO,
            target=sink,
        )
        await sink.commit()
        return up, time.perf_counter() - start

    warm = work / "warm.bin"
    warm.write_bytes(os.urandom(MB))
    await once(warm)
    baseline = _status("VmRSS")
    reset_peak()
    ups, downs = [], []
    for _ in range(repeat):
        up, down = await once(source)
        ups.append(up)
        downs.append(down)
    peak = _status("VmHWM") - baseline
    same = (
        hashlib.sha256(source.read_bytes()).digest() == hashlib.sha256(target.read_bytes()).digest()
    )
    await client.close()
    shutil.rmtree(work)
    return {
        "upload": size / MB / min(ups),
        "download": size / MB / min(downs),
        "peak_mb": peak,
        "baseline_mb": baseline,
        "same": float(same),
    }


def run_transfer(size: int, repeat: int) -> dict[str, float]:
    env = dict(os.environ)
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert host.stdout is not None
        info = json.loads(host.stdout.readline())
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                json.dumps({"size": size, "repeat": repeat, **info}),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if child.returncode != 0:
            raise SystemExit(f"the transfer child failed:\n{child.stderr[-3000:]}")
        result: dict[str, float] = json.loads(child.stdout.strip().splitlines()[-1])
        return result
    finally:
        assert host.stdin is not None
        host.stdin.close()
        host.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,100", help="MB, comma-separated")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        result = asyncio.run(
            transfer_child(job["size"], job["host"], job["auth"], job["ca"], job["repeat"])
        )
        print(json.dumps(result))
        return 0
    print(f"{'size':>6} {'what':<26} {'encrypt/up':>11} {'download/dec':>13}")
    ok = True
    for size_mb in (int(s) for s in args.sizes.split(",")):
        size = size_mb * MB
        data = os.urandom(size)
        rates = crypto_rates(data, args.repeat)
        del data
        raw_enc, raw_dec, enc, dec = (rates[k] for k in ("raw_enc", "raw_dec", "enc", "dec"))
        print(f"{size_mb:>4}MB {'raw AES-CBC+HMAC':<26} {raw_enc:>8.0f} MB/s {raw_dec:>8.0f} MB/s")
        same, same_dec = rates["same_enc"], rates["same_dec"]
        print(
            f"{size_mb:>4}MB {'raw +2 SHA-256 (same job)':<26} {same:>8.0f} MB/s"
            f" {same_dec:>8.0f} MB/s   wamd at {enc / same:.0%} / {dec / same_dec:.0%} of it"
        )
        print(
            f"{size_mb:>4}MB {'wamd crypto (+2 SHA-256)':<26} {enc:>8.0f} MB/s {dec:>8.0f} MB/s"
            f"   {enc / raw_enc:.0%} / {dec / raw_dec:.0%} of raw"
        )
        moved = run_transfer(size, args.repeat)
        print(
            f"{size_mb:>4}MB {'file->HTTPS->file':<26} {moved['upload']:>8.0f} MB/s "
            f"{moved['download']:>8.0f} MB/s   peak +{moved['peak_mb']:.1f} MB over "
            f"{moved['baseline_mb']:.0f} MB, bytes {'match' if moved['same'] else 'DIFFER'}"
        )
        ok = ok and bool(moved["same"])
        if size_mb >= 100 and moved["peak_mb"] > 20:
            print(f"     peak memory over the 20 MB bound: +{moved['peak_mb']:.1f} MB")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
