"""End to end in a real headless Chromium: `vasa serve` as a subprocess (a tiny random motion
model), the page, a streamed audio file and the fake microphone.

Needs Debian's `chromium` (`make test` installs it) and Playwright, which drives that system
browser (it never downloads one). In CI (CI=true) a missing browser fails; locally it skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import tiny_motion_model

from vasa.io import load_audio

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _need(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing in CI: `make test` installs it")
    pytest.skip(f"{what} not installed (apt-get install chromium; pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def server_url(tmp_path_factory, basis):
    """`vasa serve --port 0` with a tiny model saved as a model file; its printed URL."""
    from vasa.motion.checkpoint import save_model

    tmp = tmp_path_factory.mktemp("serve")
    m = tiny_motion_model(basis.version)
    save_model(tmp / "tiny.pt", m.net, m.norm, m.extractor, m.basis_version, m.info)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vasa.cli", "serve", "--port", "0",
                             "--model", str(tmp / "tiny.pt"), "--steps", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "open http://127.0.0.1:" in line, line + proc.stdout.read()
        yield line.split("open ")[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def page(server_url, tmp_path_factory, basis):
    if CHROMIUM is None:
        _need("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright")
    mic = tmp_path_factory.mktemp("mic") / "speech.wav"
    import soundfile

    soundfile.write(mic, load_audio(os.path.join(ROOT, "src/vasa/assets/obama_address_8s.mp4"),
                                    48000), 48000, subtype="PCM_16")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh user-data dir
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--autoplay-policy=no-user-gesture-required",
                  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={mic}"],
            bypass_csp=True, viewport={"width": 1100, "height": 760})
        errors: list[str] = []
        pg = ctx.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server_url)
        pg.errors = errors
        yield pg
        ctx.close()


def _stats(pg) -> dict:
    return pg.evaluate("() => ({...window.vasaStats})")


def _canvas(pg) -> np.ndarray:
    data = pg.evaluate("""() => Array.from(document.getElementById('view').getContext('2d')
                          .getImageData(128, 128, 256, 256).data)""")
    return np.array(data, np.uint8).reshape(256, 256, 4)


def test_page_streams_a_file_and_paints_frames_with_audio(page, tmp_path):
    assert page.title().startswith("vasa")
    blank = _canvas(page)
    page.click("#connect")
    page.wait_for_function("window.vasaStats.framesPainted > 10", timeout=20000)
    first = _canvas(page)
    assert np.abs(first.astype(int) - blank).mean() > 10  # a face was painted
    page.click("#play-bundled")
    page.wait_for_function("window.vasaStats.speechFrames > 40 && "
                           "window.vasaStats.samplesPlayed > 16000", timeout=20000)
    s = _stats(page)
    assert s["audioState"] == "running" and s["samplesSent"] >= 16000
    assert not np.array_equal(_canvas(page), first)  # the face moves
    assert s["framesPainted"] > 40 and s["lastError"] is None and not page.errors
    # Audio and video on one clock: each frame painted within a display refresh of its time.
    assert 0 <= s["syncErrorMeanMs"] < 40
    page.screenshot(path=str(tmp_path / "page.png"))
    # Checked and clicked in one step on the page's thread: between a separate check and click
    # the file could finish sending and disable the button (a click then waited 30 s, failed).
    clicked = page.evaluate("() => { const b = document.getElementById('stop-speech');"
                            " if (b.disabled) return false; b.click(); return true; }")
    if clicked:
        assert "stopped" in page.inner_text("#status")
    else:  # a loaded machine: the server's frames lag, and the whole file was already sent
        assert "idling" in page.inner_text("#status")


def test_page_streams_the_fake_microphone(page):
    page.wait_for_function("window.vasaStats.state === 'running'", timeout=20000)
    before = _stats(page)
    page.click("#mic")
    page.wait_for_function(f"window.vasaStats.micSamplesSent > 16000 && "
                           f"window.vasaStats.speechFrames > {before['speechFrames'] + 20}",
                           timeout=20000)
    s = _stats(page)
    assert s["speech"] == "mic" and s["lastError"] is None and not page.errors
    assert s["framesPainted"] > before["framesPainted"]
    page.click("#disconnect")
    t = time.monotonic()
    page.wait_for_function("window.vasaStats.state === 'closed'", timeout=5000)
    assert time.monotonic() - t < 5
