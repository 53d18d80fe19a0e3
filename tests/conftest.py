from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "vasa" / "assets"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def basis():
    from vasa.latent.basis import default_basis

    return default_basis()


@pytest.fixture(scope="session")
def astronaut():
    """The bundled portrait, cropped and encoded once for the session (512 px)."""
    from vasa.portrait import load_portrait

    return load_portrait(ASSETS / "astronaut.jpg")


@pytest.fixture(scope="session")
def astronaut_framed():
    """The bundled portrait as the pipelines load it by default: the picture, 512 px on its long
    side, with the crop cut at its scale."""
    from vasa.portrait import load_portrait

    return load_portrait(ASSETS / "astronaut.jpg", framed=True)


@pytest.fixture(scope="session")
def astronaut_renderer(astronaut, basis):
    from vasa.render import Renderer

    return Renderer(astronaut, basis)


@pytest.fixture(scope="session")
def tracker():
    from vasa.tracking import FaceLandmarker

    with FaceLandmarker() as t:
        yield t


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED / "MANIFEST.tsv").is_file():
        pytest.skip("../shared/data not present")
    return SHARED


def open_direction(basis) -> np.ndarray:
    """PCA coefficient direction that opens the lips (moves point 14 away from 13) most."""
    k = basis.num_pca
    pts = list(basis.points)
    comp = basis.components.reshape(k, -1, 3)
    d = (comp[:, pts.index(14), 1] - comp[:, pts.index(13), 1]) * basis.std
    return d / np.abs(d).max()


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models run fastest on one thread; OpenMP spinning on a busy 2-core machine makes
    two threads many times slower."""
    import torch

    torch.set_num_threads(1)


# A random tiny motion generator with the real audio features: fast and deterministic. What the
# engine, `vasa generate` and `vasa serve` tests run on (the pipeline, not the model's quality).
TINY_MOTION = {"window": 8, "prev": 2, "width": 32, "layers": 2, "heads": 2, "dropout": 0.0}


def tiny_motion_model(basis_version: str = "x"):
    import torch

    from vasa.motion.checkpoint import MotionModel, Normalizer
    from vasa.motion.config import MotionConfig
    from vasa.motion.dit import MotionDiT

    torch.manual_seed(0)
    net = MotionDiT(MotionConfig(**TINY_MOTION)).eval()
    norm = Normalizer(np.zeros(34, np.float32), np.full(34, 0.1, np.float32),
                      np.zeros(85, np.float32), np.ones(85, np.float32))
    return MotionModel(net, norm, "logmel80+prosody@1", basis_version,
                       {"gaze_forward": [0.0, -0.1]})


@pytest.fixture(scope="session")
def tiny_model():
    return tiny_motion_model()


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory, basis) -> Path:
    """The tiny model saved as a model file, for the default face basis."""
    from vasa.motion.checkpoint import save_model

    m = tiny_motion_model(basis.version)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(path, m.net, m.norm, m.extractor, m.basis_version, m.info)
    return path


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    """Tests marked slow are skipped unless --runslow is given (pyproject's marker says so)."""
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@contextlib.asynccontextmanager
async def serving(server):
    """A `vasa.serve.server.Server` on a loopback test port: its test client, then a clean
    shutdown of the client and the server's worker pools."""
    from aiohttp.test_utils import TestClient, TestServer

    client = TestClient(TestServer(server.app()))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        server.compute.shutdown(wait=True)
        server.upload_pool.shutdown(wait=True)
