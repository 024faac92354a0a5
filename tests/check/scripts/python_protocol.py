"""The Python protocol on tensors of one device (argv[1]), printed as JSON: the same script on
plain CPU and on the mock's neuron device must agree (tests/check/test_mock_fidelity.py)."""
import copy
import json
import math
import operator
import pickle
import sys

import numpy as np
import torch

DEV = torch.device(sys.argv[1])


def on(data, **kw):
    return torch.tensor(data, **kw).to(DEV)


def leaf(data):
    return on(data).requires_grad_(True)


CASES = {
    "format_spec": lambda: f"{on(1.23456):.4f}",
    "format_empty": lambda: f"{on(1.5)}",
    "format_int": lambda: f"{on(7):>4d}|{on(7):x}",
    "format_loss_with_grad": lambda: f"{(leaf(2.0) * 3):.2f}",
    "format_method": lambda: "{:.2e}".format(on(12345.0)),
    "percent_format": lambda: "%.3f %d" % (on(0.5), on(3)),
    "int": lambda: int(on(3.7)),
    "int_one_element": lambda: int(on([4])),
    "float": lambda: float(on(2.5)),
    "complex": lambda: str(complex(on(2.5))),
    "bool": lambda: [bool(on(0.0)), bool(on(1.0)), bool(on([2]))],
    "bool_ambiguous": lambda: bool(on([1.0, 2.0])),
    "truth_of_comparison": lambda: "big" if on(3.0) > 2 else "small",
    "index": lambda: operator.index(on(3)),
    "index_float_rejected": lambda: operator.index(on(3.0)),
    "list_index": lambda: ["a", "b", "c", "d"][on(2)],
    "range": lambda: list(range(on(4))),
    "slice_bounds": lambda: list(range(10))[on(2):on(5)],
    "round": lambda: [round(on(2.567), 2), round(on(2.5))],
    "math": lambda: [math.floor(on(2.7)), math.ceil(on(2.1)), math.sqrt(on(4.0)),
                     math.isclose(on(1.0), 1.0)],
    "hash_stable": lambda: (lambda t: [type(hash(t)).__name__, hash(t) == hash(t),
                                       {t: 1}[t], t in {t}])(on(1.0)),
    "len_iter": lambda: [len(on([1, 2, 3])), [x for x in on([1, 2, 3])]],
    "contains": lambda: [2 in on([1, 2, 3]), 5 in on([1, 2, 3])],
    "tolist_item": lambda: [on([[1, 2], [3, 4]]).tolist(), on(2.5).item()],
    "numpy": lambda: np.asarray(on([1.0, 2.0])),
    "pickle": lambda: pickle.loads(pickle.dumps(on([1.0, 2.0]))),
    "pickle_requires_grad": lambda: pickle.loads(pickle.dumps(leaf([1.0]))).requires_grad,
    "pickle_parameter": lambda: (lambda p: [isinstance(p, torch.nn.Parameter), p.requires_grad, p])(
        pickle.loads(pickle.dumps(torch.nn.Parameter(on([1.0, 2.0]))))),
    "pickle_module": lambda: (lambda m: [m.weight.device.type == DEV.type, m.weight.shape[0],
                                         m.weight is m.weight])(
        pickle.loads(pickle.dumps(torch.nn.Linear(2, 3).to(DEV)))),
    "deepcopy": lambda: copy.deepcopy(on([1.0, 2.0])),
    "deepcopy_parameter": lambda: (lambda p: [isinstance(p, torch.nn.Parameter), p])(
        copy.deepcopy(torch.nn.Parameter(on([1.0, 2.0])))),
    "copy": lambda: copy.copy(on([1.0, 2.0])),
    "json_item": lambda: json.dumps({"loss": on(0.25).item()}),
    "str_repr": lambda: [repr(on(1.5)), repr(on([1.0, 2.0], dtype=torch.bfloat16)),
                         repr(leaf(2.0) * 3), repr(leaf([1.0])), str(on([], dtype=torch.int64)),
                         repr(torch.nn.Parameter(on([1.0]))), repr(on([1, 2])),
                         repr(on([True]))],
}


def norm(v):
    if isinstance(v, torch.Tensor):
        return {"tensor": str(v.dtype), "values": v.detach().cpu().tolist(),
                "here": v.device.type == DEV.type, "requires_grad": v.requires_grad}
    if isinstance(v, np.ndarray):
        return {"ndarray": v.tolist()}
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if isinstance(v, str):
        return v.replace(f", device='{HOME}'", "")
    return v


HOME = on(0).device  # neuron:0, cpu
out = {}
for name, case in CASES.items():
    try:
        out[name] = norm(case())
    except Exception as exc:  # noqa: BLE001
        out[name] = {"error": type(exc).__name__, "message": str(exc).replace(str(HOME), "<DEV>")}
print("PROTOCOL=" + json.dumps(out))
