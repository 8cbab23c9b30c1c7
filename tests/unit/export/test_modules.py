"""Exports of a cell encoder (``release cells``): every format returns the exact one-hot cell; a mislabelled one is refused."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import privib
from privib.errors import ExportError
from privib.export import spec
from privib.export.exporters import export_encoder
from privib.models.cells import CellEncoder

from helpers.exports import make_frame, make_preprocessor

N_CELLS = 5


@pytest.fixture(scope="module")
def cell_export(tmp_path_factory: pytest.TempPathFactory):
    """(export folder, the cell encoder, the records, their preprocessed features) of a 5-cell encoder, all formats."""
    frame = make_frame(400)
    preprocessor = make_preprocessor(frame)
    torch.manual_seed(0)
    encoder = CellEncoder(preprocessor.n_features, n_cells=N_CELLS, widths=[16, 8], activation="gelu")
    with torch.no_grad():  # spread the records over the cells
        for parameter in encoder.parameters():
            parameter.mul_(4.0)
    folder = tmp_path_factory.mktemp("cells") / "export"
    metrics = {"leakage/sex/auc_max": 0.55, "leakage/sex/certified_auc_ub": 0.62, "leakage/sex/certified_ba_ub": 0.6,
               "leakage/sex/certified_tv_ub": 0.2, "fairness/sex/certified_dp_ub": 0.2, "leakage/sex/empirical_tv": 0.1,
               "leakage/sex/certified_rows/prior": 300.0, "leakage/sex/certified_rows/cells": 80.0,
               "leakage/sex/certified_rows/mean": 20.0}
    export_encoder(encoder.eval(), preprocessor, folder, dataset="synthetic", target="label", sensitive=["sex"],
                   train_rows=len(frame), run_name="cells-run", config={"model": {"release": "cells", "n_cells": N_CELLS}},
                   metrics=metrics)
    return folder, encoder, frame, preprocessor.transform(frame)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_every_backend_returns_the_exact_one_hot_cell(cell_export, backend):
    folder, encoder, frame, features = cell_export
    expected = encoder.code(torch.from_numpy(features)).numpy()
    assert len(np.unique(expected.argmax(axis=1))) >= 3
    loaded = privib.load_encoder(folder, backend=backend)
    assert loaded.release == "cells" and loaded.z_dim == N_CELLS and loaded.metadata["deterministic"]
    codes = loaded.encode(frame)
    assert codes.dtype == np.float32 and np.array_equal(codes, expected)
    assert np.array_equal(loaded.encode(frame, sample=True, seed=3), expected)
    assert np.array_equal(loaded.cells(frame), expected.argmax(axis=1))


def test_the_pt2_program_returns_the_same_cells(cell_export):
    folder, encoder, _, features = cell_export
    program = torch.export.load(folder / spec.PT2_FILE)
    with torch.no_grad():
        mean, log_var = program.module()(torch.from_numpy(features))
    assert torch.equal(mean, encoder.code(torch.from_numpy(features)))
    assert (log_var == spec.DETERMINISTIC_LOG_VAR).all()


def test_the_model_card_states_the_certificate_and_the_cells(cell_export):
    card = (cell_export[0] / spec.MODEL_CARD_FILE).read_text()
    assert f"one of {N_CELLS} cells" in card and "`cells()` its id" in card
    assert "no attacker can predict `sex` from this code with AUC above **0.6200**" in card
    assert "each record is released once" in card and "300 training rows" in card
    assert "or a certificate that the sensitive attribute cannot be recovered" not in card
    assert "adversary cross-entropy on the released cell" in card and "beta * KL" not in card


def test_a_gaussian_export_of_the_cells_api_is_refused(tiny_export):
    with pytest.raises(ExportError, match="releases a Gaussian code"):
        privib.load_encoder(tiny_export[0]).cells(make_frame(3))


@pytest.mark.parametrize("release, needle", [("mean", "release differs from manifest.json"),
                                             ("sample", "release differs from manifest.json")])
def test_a_cell_export_relabelled_gaussian_is_refused(cell_export, tmp_path: Path, release, needle):
    import shutil

    folder = tmp_path / "export"
    shutil.copytree(cell_export[0], folder)
    manifest = json.loads((folder / spec.MANIFEST_FILE).read_text())
    manifest["metadata"]["release"] = release
    (folder / spec.MANIFEST_FILE).write_text(json.dumps(manifest))
    for backend in ("torch", "onnx"):
        with pytest.raises(ExportError, match=needle):
            privib.load_encoder(folder, backend=backend)


def test_a_stochastic_export_relabelled_cells_is_refused(export_copy):
    manifest = json.loads((export_copy / spec.MANIFEST_FILE).read_text())
    manifest["metadata"]["release"] = "cells"
    (export_copy / spec.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match="a cell encoder is deterministic"):
        privib.load_encoder(export_copy)
