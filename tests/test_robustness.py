"""Hostile and careless input (issue 14), each bounded to seconds on CPU: the server on loopback
(many short sessions, DNS-rebinding headers, idle sockets, NaN and oversized numbers in the
protocol), and the CLI and file readers (a pixel bomb, sizes, output names, signals, stale
temporary files, NaN audio, corrupt arrays, symlink loops)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from conftest import ASSETS, ROOT, serving

from vasa.cli import main
from vasa.io import MediaError, iter_audio, load_audio
from vasa.motion.controls import Controls

SIZE = 128  # small frames: these tests are about the transport, not the pictures


@pytest.fixture(scope="module")
def parts(tiny_model, basis):
    from vasa.audio import get_extractor
    from vasa.portrait import load_portrait
    from vasa.serve.server import ServeParts

    portrait = load_portrait(ASSETS / "astronaut.jpg", SIZE, None, basis, framed=True)
    return ServeParts(tiny_model, get_extractor(), basis, portrait, b"RIFF")


@contextlib.asynccontextmanager
async def running(parts, **kw):
    from vasa.serve.server import ServeConfig, Server

    stream = replace(ServeConfig().stream, size=SIZE, controls=Controls(steps=1))
    server = Server(ServeConfig(stream=stream, **kw), parts)
    async with serving(server) as client:
        yield server, client


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def until(condition, timeout: float = 5.0) -> None:
    t = time.monotonic()
    while not condition() and time.monotonic() - t < timeout:
        await asyncio.sleep(0.01)


# ---- the server ------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds in /proc")
def test_short_sessions_never_leak_slots_or_fds(parts):
    """Before the fix, 4 of 4 slots stayed taken after the first 5 sessions (tasks parked at a
    full frame queue or in a polling wait_for) and every later client was told "busy"."""
    from vasa.serve.live import LiveConfig

    async def session(client, k: int) -> str:
        ws = await client.ws_connect("/ws")
        await ws.send_json({"type": "start"})
        msg = await ws.receive(timeout=10)
        ready = msg.type == WSMsgType.TEXT and json.loads(msg.data)["type"] == "ready"
        for _ in range(k % 4):  # audio in flight while the client goes
            await ws.send_bytes(bytes(640))
        if k % 3 == 0:  # vanish: no close handshake
            ws._response.connection.transport.abort()
        await ws.close()
        return "ready" if ready else msg.data

    async def body():
        # A 2-frame queue: a client that goes leaves the producer at a full queue at once.
        async with running(parts, max_sessions=4, live=LiveConfig(max_queued_frames=2)) as (
                server, client):
            await asyncio.gather(*[session(client, k) for k in range(8)])
            await until(lambda: not server.sessions)
            fds = open_fds()
            outcomes = []
            for i in range(0, 400, 4):
                outcomes += await asyncio.gather(*[session(client, i + k) for k in range(4)])
            await until(lambda: not server.sessions and not server.sockets)
            health = await (await client.get("/api/health")).json()
            return outcomes, health, fds, open_fds()

    outcomes, health, before, after = asyncio.run(body())
    assert outcomes == ["ready"] * 400
    assert health["sessions"] == 0 and health["connections"] == 0
    assert after <= before + 2, (before, after)


@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.1.attacker.example", "[::2]"])
def test_dns_rebinding_host_is_refused(parts, host):
    async def body():
        async with running(parts) as (_server, client):
            port = client.port
            evil = {"Host": f"{host}:{port}", "Origin": f"http://{host}:{port}"}
            assert (await client.get("/api/health", headers=evil)).status == 403
            r = await client.post("/api/portrait", data=b"\xff\xd8\xff", headers=evil)
            assert r.status == 403 and "Host" in (await r.json())["error"]
            with pytest.raises(WSServerHandshakeError, match="403"):
                await client.ws_connect("/ws", headers=evil)
            for name in ("localhost", "127.0.0.1"):  # how the page is really reached
                ok = {"Host": f"{name}:{port}", "Origin": f"http://{name}:{port}"}
                assert (await client.get("/api/health", headers=ok)).status == 200

    asyncio.run(body())


def test_idle_sockets_cannot_lock_a_client_out(parts):
    """Before: a slot was taken at the upgrade for 30 s, so two idle sockets locked everyone
    out. Now sockets that never start hold no slot, are closed after start_timeout_s, and one
    address holds at most max_peer_connections."""
    START_TIMEOUT_S = 2.0

    async def body():
        # The refusal is checked before the start, and the timeout is 2 s, not 0.5: on a
        # loaded machine the start took over 0.5 s, the idle sockets were closed meanwhile, and
        # a 5th socket was let in.
        async with running(parts, max_sessions=1, start_timeout_s=START_TIMEOUT_S,
                           max_peer_connections=4) as (server, client):
            idle = [await client.ws_connect("/ws") for _ in range(3)]
            t = time.monotonic()
            ws = await client.ws_connect("/ws")
            with pytest.raises(WSServerHandshakeError, match="429"):
                await client.ws_connect("/ws")  # a 5th socket from this address
            await ws.send_json({"type": "start"})
            assert (await ws.receive_json(timeout=5))["type"] == "ready"
            waited = time.monotonic() - t
            for s in idle:  # told why, then closed
                err = await s.receive_json(timeout=5)
                assert err["code"] == "timeout"
                assert (await s.receive(timeout=5)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
                await s.close()
            await until(lambda: len(server.sockets) == 1)
            late = await client.ws_connect("/ws")  # room again; the one slot is in use
            await late.send_json({"type": "start"})
            assert (await late.receive_json(timeout=5))["type"] == "busy"
            await late.close()
            await ws.close()
            return waited

    assert asyncio.run(body()) < START_TIMEOUT_S  # served before the idle sockets timed out


def test_nan_and_oversized_numbers_answer_errors_and_the_session_goes_on(parts):
    async def body():
        async with running(parts) as (server, client):
            ws = await client.ws_connect("/ws")
            await ws.send_json({"type": "start"})
            assert (await ws.receive_json(timeout=5))["type"] == "ready"
            for text in ['{"type": "controls", "cfg_audio": NaN}',
                         '{"type": "controls", "motion_scale": -Infinity}',
                         '{"type": "controls", "cfg_gaze": ' + "9" * 40 + "}",
                         '{"type": "controls", "distance": 1' + "0" * 400 + "}",
                         '{"type": "controls", "x": ' + "[" * 2000 + "]" * 2000 + "}"]:
                await ws.send_str(text)
            codes, frames = [], 0
            while len(codes) < 5 or frames < 10:
                msg = await ws.receive(timeout=5)
                assert msg.type in (WSMsgType.TEXT, WSMsgType.BINARY), msg
                if msg.type == WSMsgType.TEXT:
                    codes.append(json.loads(msg.data)["code"])
                else:
                    frames += 1
            await ws.close()
            await until(lambda: not server.sessions)
            return codes, len(server.sessions)

    codes, left = asyncio.run(body())
    assert codes == ["bad_controls"] * 4 + ["bad_message"] and left == 0


def test_nan_gaze_and_emotion_text_are_refused():
    from vasa.serve.protocol import ProtocolError, apply_controls, parse_text

    for text in ['{"type": "controls", "gaze": "nan,0"}',
                 '{"type": "controls", "emotion": "nan,0,0,0,0,0,0"}']:
        with pytest.raises(ProtocolError, match="gaze angles must be finite|emotion must be"):
            apply_controls(Controls(), parse_text(text))


# ---- images ---------------------------------------------------------------------------------


def bomb_png(path: Path, w: int, h: int) -> None:
    """A valid all-black 1-bit PNG of w x h: a few tens of KB on disk, w*h pixels decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    z = zlib.compressobj(9)
    row = bytes(1 + (w + 7) // 8)  # filter byte + packed bits
    body = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.mark.parametrize("w,h", [(20000, 20000), (8000, 6000)])
def test_pixel_bomb_is_refused_from_the_header(tmp_path, w, h):
    """Before: the 20000x20000 PNG (49 KB) took 8.9 s and 1.6 GB to decode, then minutes of
    face search. Now refused in milliseconds with a few MB, in a fresh process to measure."""
    bomb = tmp_path / "bomb.png"
    bomb_png(bomb, w, h)
    code = ("import resource, sys, time\n"
            "from vasa.portrait import read_image\n"
            "r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "t = time.monotonic()\n"
            "try:\n    read_image(sys.argv[1])\nexcept ValueError as err:\n    print(err)\n"
            "print(time.monotonic() - t)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - r0)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code, str(bomb)], check=True, capture_output=True,
                         text=True, env=env, timeout=60).stdout.splitlines()
    assert out[0].startswith(f"{bomb}: image ") and "at most 40 megapixels" in out[0], out
    assert float(out[1]) < 1.0 and int(out[2]) < 100_000  # seconds; KB of peak RSS


def test_pixel_bomb_refused_by_the_cli(tmp_path, tiny_model_file, capsys):
    bomb = tmp_path / "bomb.png"
    bomb_png(bomb, 20000, 20000)
    t = time.monotonic()
    assert main(["generate", str(bomb), str(ASSETS / "obama_address_8s.mp4"), "-o",
                 str(tmp_path / "o.mp4"), "-q", "--model", str(tiny_model_file)]) == 2
    assert time.monotonic() - t < 20
    err = capsys.readouterr().err
    assert f"{bomb}: image of over" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.png"]


def test_huge_image_is_searched_downscaled(tracker):
    """A 36 MP photo with the face small in a corner: found, in the photo's own pixels."""
    from vasa.portrait import detect_faces, read_image

    face = read_image(ASSETS / "astronaut.jpg")
    big = np.full((6000, 6000, 3), 90, np.uint8)
    big[4000:4000 + face.shape[0], 500:500 + face.shape[1]] = face
    alone = detect_faces(tracker, face)[0]
    found = detect_faces(tracker, big)
    assert len(found) == 1
    centre = found[0].landmarks[:, :2].mean(0) - (500, 4000)
    assert np.allclose(centre, alone.landmarks[:, :2].mean(0), atol=0.05 * alone.size)
    assert abs(found[0].size / alone.size - 1) < 0.1


# ---- the CLI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["generate", "demo", "reenact"])
@pytest.mark.parametrize("size", ["-10", "0", "40000"])
def test_size_is_range_checked_before_any_work(command, size, tmp_path, capsys):
    args = {"generate": ["generate", str(ASSETS / "astronaut.jpg"), "missing.wav"],
            "demo": ["demo"],
            "reenact": ["reenact", str(ASSETS / "astronaut.jpg"), "missing.mp4"]}[command]
    t = time.monotonic()
    assert main([*args, "-o", str(tmp_path / "o.mp4"), "-q", "--size", size]) == 2
    err = capsys.readouterr().err
    assert f"--size must be in 64..2048 pixels, got {size}" in err and "Traceback" not in err
    assert time.monotonic() - t < 2 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("out,expect", [("out.avi", "cannot write .avi: give a .mp4, .mov, .mkv"),
                                        ("noext", "cannot write a file without an extension"),
                                        (".", "is a folder; give a file name")])
def test_output_name_is_checked_before_any_work(out, expect, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t = time.monotonic()
    assert main(["demo", "-o", out, "-q"]) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err
    assert time.monotonic() - t < 2 and not list(tmp_path.iterdir())


def test_mov_and_mkv_are_written_as_named(tmp_path):
    import av

    from vasa.io import VideoWriter

    sound = np.sin(np.arange(16000) / 8).astype(np.float32) * 0.3
    for ext, fmt in [("mov", "mov"), ("mkv", "matroska")]:
        with VideoWriter(tmp_path / f"a.{ext}", 25, sound, 16000) as w:
            for i in range(25):
                w.write(np.full((64, 64, 3), 8 * i, np.uint8))
        with av.open(str(tmp_path / f"a.{ext}")) as c:
            assert fmt in c.format.name
            assert sorted(s.codec_context.name for s in c.streams) == ["aac", "h264"]


def _long_speech(path: Path, seconds: float = 60.0) -> None:
    import soundfile

    speech = load_audio(ASSETS / "obama_address_8s.mp4", 16000)
    soundfile.write(path, np.resize(speech, int(seconds * 16000)), 16000, subtype="PCM_16")


@pytest.mark.parametrize("sig,code,line", [(signal.SIGTERM, 143, "vasa: terminated"),
                                           (signal.SIGINT, 130, "vasa: interrupted")])
def test_signal_ends_with_one_line_and_no_leftovers(sig, code, line, tmp_path, tiny_model_file):
    """SIGTERM used to leave a hidden .o.mp4.tmp-XXXX.mp4 behind; Ctrl-C printed a traceback."""
    speech = tmp_path / "speech.wav"
    _long_speech(speech, 600.0)  # long enough that a starved test process still signals first
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    # A shell's background job (CI runners, `make test &`) starts with SIGINT ignored, and
    # Python then never raises KeyboardInterrupt: the child restores the handler a terminal
    # gives, so the test sees what a user pressing Ctrl-C sees.
    start = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "from vasa.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen(
        [sys.executable, "-c", start, "generate", str(ASSETS / "astronaut.jpg"),
         str(speech), "-o", str(out / "o.mp4"), "-q", "--size", "64", "--model",
         str(tiny_model_file)], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not any(out.iterdir()) and time.monotonic() < deadline:  # writing has begun
            time.sleep(0.05)
        assert proc.poll() is None, "finished before the signal"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code and err.strip().splitlines()[-1] == line, err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []


def test_stale_temp_files_of_dead_runs_are_swept(tmp_path):
    from vasa import files
    from vasa.files import STALE_TEMP_S, atomic_output

    old = time.time() - STALE_TEMP_S - 60
    stale = tmp_path / ".o.mp4.tmp-0123abcd.mp4"  # a killed run's
    fresh = tmp_path / ".p.mp4.tmp-89abcdef.mp4"  # a live run's
    theirs = tmp_path / ".notes.tmp-old.txt"  # not our naming
    for p in (stale, fresh, theirs):
        p.write_bytes(b"x")
    for p in (stale, theirs):
        os.utime(p, (old, old))
    files._swept.discard(str(tmp_path))
    with atomic_output(tmp_path / "table.md") as tmp:
        Path(tmp).write_text("ok")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [fresh.name, theirs.name, "table.md"])


# ---- files -----------------------------------------------------------------------------------


def test_nan_audio_is_refused_naming_the_file(tmp_path):
    import soundfile

    x = np.zeros(16000, np.float32)
    x[8000] = np.nan
    path = tmp_path / "nan.wav"
    soundfile.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(MediaError, match=r"nan.wav: audio holds NaN or infinite samples "
                                         r"\(first at 0.50 s\)"):
        load_audio(path)
    with pytest.raises(MediaError, match="nan.wav: audio holds NaN"):
        list(iter_audio(path))


def test_corrupt_dataset_array_and_symlink_loop_name_the_file(tmp_path):
    from vasa.data.format import load_array

    good = tmp_path / "0.motion.npy"
    np.save(good, np.zeros((5, 3), np.float32))
    truncated = tmp_path / "1.motion.npy"
    truncated.write_bytes(good.read_bytes()[:100])
    garbage = tmp_path / "2.motion.npy"
    garbage.write_bytes(b"not an array" * 10)
    loop = tmp_path / "3.motion.npy"
    loop.symlink_to(loop)
    assert load_array(good).shape == (5, 3)
    for bad in (truncated, garbage):
        with pytest.raises(ValueError, match=f"{bad}: corrupt array"):
            load_array(bad)
    with pytest.raises(FileNotFoundError, match=f"{loop}: broken symbolic link or symlink loop"):
        load_array(loop)
    from vasa.portrait import read_image

    with pytest.raises(FileNotFoundError, match="symlink loop"):
        read_image(loop)
    with pytest.raises(MediaError, match="symlink loop"):
        load_audio(loop)
