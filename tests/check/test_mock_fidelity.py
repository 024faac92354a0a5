"""Fidelity of the CPU mock of the neuron device: where a real device behaves one way, so must the
mock (issue 14).  Each test runs a script under ``porttool check``'s mock backend."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from porttool.check.runner import run_stage
from porttool.check.runtime_report import RunReport, render_text

pytest.importorskip("torch")

SCRIPTS = Path(__file__).parent / "scripts"
PY = sys.executable
INJECT = Path(__file__).resolve().parents[2] / "porttool" / "check" / "inject"


def mock_run(*argv: str, target: str = "neuron", env: dict[str, str] | None = None) -> RunReport:
    result = run_stage([PY, *argv], target=target, backend="mock", cwd=SCRIPTS, timeout=180,
                       echo=False, env=env)
    assert result.passed, render_text(result)
    return result.runs[-1]


def test_moving_a_module_keeps_tied_parameters_and_their_identity() -> None:
    tail = mock_run("tied_weights.py").output_tail
    assert "tied True" in tail
    assert "same object True neuron:0" in tail  # an optimizer built before .to() still trains
    assert "params 40 40" in tail
    assert "optimizer trained the model True" in tail
    assert "tied after half True torch.float16" in tail
    assert "tied after cpu True cpu" in tail


# -- the Python protocol on device tensors -------------------------------------------------------
PROTOCOL_CASES = (
    "format_spec", "format_empty", "format_int", "format_loss_with_grad", "format_method",
    "percent_format", "int", "int_one_element", "float", "complex", "bool", "bool_ambiguous",
    "truth_of_comparison", "index", "index_float_rejected", "list_index", "range", "slice_bounds",
    "round", "math", "hash_stable", "len_iter", "contains", "tolist_item", "pickle",
    "pickle_requires_grad", "pickle_parameter", "pickle_module", "deepcopy", "deepcopy_parameter",
    "copy", "json_item", "str_repr",
)


def _protocol(device: str, *, mock: bool) -> dict[str, Any]:
    import json
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTOOL_")}
    if mock:
        env["PYTHONPATH"] = str(INJECT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PORTTOOL_CHECK_MODE"] = "mock"
    out = subprocess.run([PY, str(SCRIPTS / "python_protocol.py"), device], env=env,
                         capture_output=True, text=True, timeout=180, check=True).stdout
    result: dict[str, Any] = json.loads(out.split("PROTOCOL=", 1)[1])
    return result


@pytest.fixture(scope="module")
def protocol() -> tuple[dict[str, Any], dict[str, Any]]:
    """The same script on plain CPU and on the mock's neuron device (one process each)."""
    return _protocol("cpu", mock=False), _protocol("neuron", mock=True)


def _errors_by_type(value: Any) -> Any:
    # "type Tensor doesn't define __round__" names the class; the kind of error is the contract.
    return value["error"] if isinstance(value, dict) and "error" in value else value


@pytest.mark.parametrize("case", PROTOCOL_CASES)
def test_python_protocol_on_a_device_tensor_matches_a_cpu_tensor(
        case: str, protocol: tuple[dict[str, Any], dict[str, Any]]) -> None:
    cpu, mock = protocol
    assert _errors_by_type(mock[case]) == _errors_by_type(cpu[case])


def test_numpy_conversion_is_refused_on_the_device_as_on_any_accelerator(
        protocol: tuple[dict[str, Any], dict[str, Any]]) -> None:
    cpu, mock = protocol
    assert cpu["numpy"] == {"ndarray": [1.0, 2.0]}
    assert mock["numpy"]["error"] == "TypeError"  # what CUDA says, with its device
    assert mock["numpy"]["message"].startswith("can't convert <DEV> device type tensor to numpy")
    assert set(PROTOCOL_CASES) | {"numpy"} == set(cpu)  # every case in the script is checked


# -- factories with an integer device ------------------------------------------------------------
def test_integer_device_and_new_tensor_build_on_the_device() -> None:
    tail = mock_run("integer_device.py").output_tail
    expected = {
        "tensor": "float32 [1.0, 2.0]", "tensor_scalar": "int64 3", "as_tensor": "float32 [1.0]",
        "asarray": "float32 [1.0]", "zeros": "float32 [0.0, 0.0]", "full": "float32 [7.0, 7.0]",
        "to": "float32 [1.0, 1.0]", "new_tensor": "float32 [5.0, 6.0]",
        "new_tensor_int": "int64 [5, 6]", "new_tensor_of_tensor": "float32 [0.0, 1.0, 2.0]",
        "new_zeros": "float32 [0.0, 0.0, 0.0]", "new_full": "float32 [4.0, 4.0]",
    }
    for name, text in expected.items():
        assert f"\n{name} neuron:0 {text}\n" in "\n" + tail, name
    assert "module_to neuron:0 float32" in tail
    assert "new_tensor requires_grad True True" in tail


# -- imports that compile TorchScript ------------------------------------------------------------
def test_torchscript_imports_and_scripted_factories() -> None:
    tail = mock_run("torchscript_imports.py").output_tail
    assert "imported ZeroRedundancyOptimizer" in tail
    assert "scripted [3.0, 3.0]" in tail
    assert "on device neuron:0" in tail


# -- the default process-group backend ----------------------------------------------------------
def test_init_process_group_without_backend_then_ddp() -> None:
    result = run_stage([PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        "ddp_default_backend.py"], target="portable", backend="mock",
                       cwd=SCRIPTS, timeout=240, echo=False)
    assert result.passed, render_text(result)
    cpu, mock = result.runs
    lines = {}
    for run, device in ((cpu, "cpu"), (mock, "neuron")):
        for rank in (0, 1):
            (line,) = [x for x in run.output_tail.splitlines() if f"rank {rank} on {device}:" in x]
            lines[device, rank] = line.split(": ", 1)[1]
    assert lines["cpu", 0] == lines["cpu", 1] == lines["neuron", 0] == lines["neuron", 1]
    assert lines["cpu", 0].startswith("all_reduce 3.0 weights ")


# -- never block the real SDK --------------------------------------------------------------------
# A stand-in for torch-neuronx with the behaviour its docs describe: it registers the neuron
# device only when no other PrivateUse1 backend was registered first.
FAKE_SDK = '''
import torch
if torch._C._get_privateuse1_backend_name() == "privateuseone":
    torch.utils.rename_privateuse1_backend("neuron")

    class _NeuronModule:
        SDK = "the real SDK"

        @staticmethod
        def is_available():
            return False

    torch._register_device_module("neuron", _NeuronModule())
'''
USES_SDK = ("import torch\nimport torch_neuronx\n"
            "print('torch.neuron is', getattr(getattr(torch, 'neuron', None), 'SDK', 'NOT the SDK'))\n")


def _fake_sdk(root: Path) -> Path:
    (root / "torch_neuronx").mkdir(parents=True)
    (root / "torch_neuronx" / "__init__.py").write_text(FAKE_SDK)
    return root


def test_the_mock_stays_off_where_torch_neuronx_is_importable(tmp_path: Path) -> None:
    import os

    env = dict(os.environ, PYTHONPATH=str(_fake_sdk(tmp_path / "sdk")))
    report = mock_run("-c", USES_SDK, env=env)
    assert "torch.neuron is the real SDK" in report.output_tail
    (note,) = [n for n in report.notes if "was NOT loaded" in n]
    assert "torch_neuronx is importable in this Python" in note
    assert "skips its own registration" in note


def test_a_late_torch_neuronx_import_under_the_mock_fails_with_the_reason(tmp_path: Path) -> None:
    sdk = _fake_sdk(tmp_path / "sdk")
    code = (f"import sys, torch\nsys.path.insert(0, {str(sdk)!r})\n"
            "try:\n    import torch_neuronx\nexcept ImportError as exc:\n    print('refused:', exc)\n"
            "print('device', torch.ones(1, device='neuron').device)\n")
    tail = mock_run("-c", code).output_tail
    assert "refused: porttool check: the CPU mock of the neuron device is active" in tail
    assert "device neuron:0" in tail


# -- bf16 autocast: fp32 compute rounded to bf16 (speed) -----------------------------------------
def test_autocast_matmuls_compute_in_fp32_on_bf16_rounded_inputs() -> None:
    # A CPU without bf16 units ran GPT-2's step 9x slower in bf16 kernels (issue 14); the result
    # must still be the bf16 one: inputs rounded to bf16, output bf16, weight grads fp32.
    tail = mock_run("autocast_precision.py").output_tail
    assert "kernels ['addmm:float32,float32,float32', 'mm:float32,float32']" in tail
    assert "dtypes torch.bfloat16 torch.bfloat16 neuron:0" in tail
    assert "rounded fp32 product True" in tail
    assert "grad dtypes torch.float32 neuron:0" in tail
