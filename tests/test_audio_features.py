from __future__ import annotations

import importlib.util
import itertools
import math

import numpy as np
import pytest
from conftest import ASSETS

from vasa.audio import (
    PROSODY_FIELDS,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    get_extractor,
    mel_filterbank,
    num_frames,
)
from vasa.audio.features import _hz_to_mel, _mel_to_hz

NAMES = ["logmel", "logmel-stacked", "mfcc", "prosody", "logmel+prosody"]
F0, VOICING, ENERGY = PROSODY_FIELDS.index("f0_hz"), PROSODY_FIELDS.index("voicing"), 0


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from vasa.io import load_audio

    return load_audio(ASSETS / "obama_address_8s.mp4", SAMPLE_RATE)


def tone(hz: float, seconds: float = 1.0, harmonics: int = 1) -> np.ndarray:
    """A periodic test signal: harmonics 1..n with 1/k amplitudes (sawtooth-like for n > 1)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * k * hz * t) / k for k in range(1, harmonics + 1))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_frame_count_is_ceil_of_length(name):
    ex = get_extractor(name)
    rng = np.random.default_rng(0)
    for n in [0, 1, 639, 640, 641, 6400, 12345]:
        feats = ex(rng.uniform(-0.5, 0.5, n).astype(np.float32))
        assert feats.shape == (math.ceil(n / SAMPLES_PER_FRAME), ex.spec.dim) == (num_frames(n),
                                                                                   ex.spec.dim)
        assert feats.dtype == np.float32


def test_dims_and_spec_ids_are_distinct_and_stable():
    dims = {n: get_extractor(n).spec.dim for n in NAMES}
    assert dims == {"logmel": 80, "logmel-stacked": 320, "mfcc": 40, "prosody": 5,
                    "logmel+prosody": 85}
    ids = [get_extractor(n).spec.id for n in NAMES]
    assert ids == ["logmel80@1", "logmel80x4@1", "mfcc20+delta@1", "prosody@1",
                   "logmel80+prosody@1"]
    assert get_extractor().spec == get_extractor("logmel+prosody").spec
    assert get_extractor("mfcc+prosody").spec.dim == 45


def test_speech_features_finite_and_plausible(speech):
    feats = get_extractor()(speech)
    assert feats.shape == (200, 85) and np.isfinite(feats).all()
    logmel, prosody = feats[:, :80], feats[:, 80:]
    assert -1.0 <= logmel.min() and logmel.max() < 2.0  # whisper-scaled range
    voiced = prosody[:, F0] > 0
    assert 0.3 < voiced.mean() < 0.8  # Praat calls 53% of these frames voiced
    assert 95 < np.median(prosody[voiced, F0]) < 170  # an adult male voice


def test_sine_pitch_and_voicing():
    for hz, harmonics in [(220.0, 1), (150.0, 8), (330.0, 4)]:
        p = get_extractor("prosody")(tone(hz, harmonics=harmonics))[1:-1]  # inner frames
        np.testing.assert_allclose(p[:, F0], hz, rtol=0.05)
        assert p[:, VOICING].min() > 0.9


def test_silence_and_noise_are_unvoiced():
    p = get_extractor("prosody")(np.zeros(SAMPLE_RATE, np.float32))
    assert np.all(p[:, ENERGY] <= -4.99) and np.all(p[:, F0] == 0) and np.all(p[:, VOICING] == 0)
    noise = np.random.default_rng(1).normal(0, 0.1, SAMPLE_RATE).astype(np.float32)
    p = get_extractor("prosody")(noise)
    assert np.mean(p[:, F0] > 0) < 0.1 and np.all(p[:, ENERGY] > -1.5)


def test_logmel_peaks_at_the_tone():
    filters = mel_filterbank()
    centres = filters.argmax(axis=1) * SAMPLE_RATE / 400  # Hz of each filter's peak bin
    feats = get_extractor("logmel")(tone(1000.0))
    assert abs(centres[feats[1:-1].argmax(axis=1)] - 1000).max() < 60


def test_mel_filterbank_nonnegative_and_covering():
    fb = mel_filterbank()
    assert fb.shape == (80, 201) and (fb >= 0).all()
    assert (fb.sum(axis=1) > 0).all()  # no empty filter
    assert (fb[:, 1:-1].sum(axis=0) > 0).all()  # every bin strictly inside 0-8 kHz is covered
    assert np.all(np.diff(fb.argmax(axis=1)) >= 0)  # filters ordered by frequency
    # golden value: librosa.filters.mel(sr=16000, n_fft=400, n_mels=80).max() (whisper's bank)
    assert fb.max() == pytest.approx(0.025880683, rel=1e-6)
    hz = np.array([0.0, 500.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(_mel_to_hz(_hz_to_mel(hz)), hz, atol=1e-6)


@pytest.mark.parametrize("name", ["logmel", "mfcc", "prosody"])
def test_chunked_equals_whole_except_at_chunk_boundaries(speech, name):
    ex = get_extractor(name)
    whole = ex(speech)
    cuts = [0, 37, 37 + 61, len(whole)]  # chunks of 37, 61 and 102 frames
    chunked = np.concatenate([ex(speech[a * SAMPLES_PER_FRAME : b * SAMPLES_PER_FRAME])
                              for a, b in itertools.pairwise(cuts)])
    assert chunked.shape == whole.shape
    boundary = {c + d for c in cuts[1:-1] for d in (-1, 0)}
    inner = [t for t in range(len(whole)) if t not in boundary]
    np.testing.assert_allclose(chunked[inner], whole[inner], rtol=1e-5, atol=1e-5)
    # exact streaming: one extra frame of real audio on each side, its rows dropped
    a, b = 37, 98
    with_context = ex(speech[(a - 1) * SAMPLES_PER_FRAME : (b + 1) * SAMPLES_PER_FRAME])[1:-1]
    np.testing.assert_allclose(with_context, whole[a:b], rtol=1e-5, atol=1e-5)


def test_frame_depends_only_on_streaming_context(speech):
    ex = get_extractor()
    ctx, t = ex.streaming_context, 100
    before = ex(speech)[t]
    x = speech.copy()
    x[: t * SAMPLES_PER_FRAME - ctx] = 0.1  # everything outside the frame and its context
    x[(t + 1) * SAMPLES_PER_FRAME + ctx :] = -0.1
    np.testing.assert_allclose(ex(x)[t], before, rtol=1e-5, atol=1e-5)


def test_unknown_names_and_bad_input_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown audio feature extractor 'foo'.*logmel"):
        get_extractor("foo")
    with pytest.raises(ValueError, match="'logmel\\+wav2vec'"):
        get_extractor("logmel+wav2vec")
    with pytest.raises(ValueError, match="/nonexistent.*config.json"):
        get_extractor("hf:/nonexistent")
    ex = get_extractor()
    with pytest.raises(ValueError, match="mono"):
        ex(np.zeros((2, 640), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        ex(np.full(640, np.nan, np.float32))


@pytest.mark.skipif(importlib.util.find_spec("transformers") is not None,
                    reason="transformers is installed")
def test_hf_without_transformers_says_so(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="transformers"):
        get_extractor(f"hf:{tmp_path}")


def test_hf_local_model_gives_25fps_frames(tmp_path):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    config = transformers.Wav2Vec2Config(hidden_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, intermediate_size=32,
                                         conv_dim=(8,) * 7, num_conv_pos_embeddings=16)
    transformers.Wav2Vec2Model(config).save_pretrained(tmp_path)
    ex = get_extractor(f"hf:{tmp_path}")
    assert ex.spec.dim == 16 and ex.spec.name == f"hf-{tmp_path.name}"
    for n in [1, 640, 5000]:
        assert ex(np.zeros(n, np.float32) + 0.01).shape == (num_frames(n), 16)
