"""Notes on a failing line say what `porttool rewrite --target T` really does with that line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from porttool.check.runner import run_stage
from porttool.check.runtime_report import render_text
from porttool.check.site_notes import PIN_FAILED, site_notes

SCRIPTS = Path(__file__).parent / "scripts"
PY = sys.executable


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_variable_pin_memory_is_not_promised_a_rewrite() -> None:
    pytest.importorskip("torch")
    result = run_stage([PY, "pin_memory_variable.py"], target="neuron", backend="mock", cwd=SCRIPTS,
                       timeout=120, echo=False)
    assert not result.passed
    (report,) = result.runs
    (note,) = [n for n in report.notes if PIN_FAILED in n]
    # the DataLoader(...) line, though a pin-memory thread did the pinning
    assert note.startswith(f"the DataLoader made at {SCRIPTS / 'pin_memory_variable.py'}:6 ")
    assert "--unsafe-fixes" not in note and "sets pin_memory=False" not in note
    assert note.endswith("`porttool rewrite` does not change it (PT401 rewrites only a literal "
                         "`pin_memory=True`; here it is `pin_memory=pin`): pass `pin_memory=False` on neuron")
    assert f"note: {note}" in render_text(result)


def test_a_pin_memory_call_names_the_call_and_what_pt402_does() -> None:
    pytest.importorskip("torch")
    result = run_stage([PY, "pin_memory_call.py"], target="neuron", backend="mock", cwd=SCRIPTS,
                       timeout=120, echo=False)
    (report,) = result.runs
    script = SCRIPTS / "pin_memory_call.py"
    (note,) = [n for n in report.notes if PIN_FAILED in n]
    assert note.startswith(f"`.pin_memory()` at {script}:5 failed")
    assert note.endswith(f"`porttool rewrite --unsafe-fixes --target neuron` changes {script}:4 "
                         "(PT402: Drop `.pin_memory()` (use the tensor as is))")


LOADER = """\
from torch.utils.data import DataLoader

loader = DataLoader(
    range(8),
    pin_memory=True,{comment}
)
"""


def test_the_note_follows_the_target_and_suppressions(tmp_path: Path) -> None:
    plain = write(tmp_path / "plain.py", LOADER.format(comment=""))
    site = [("pin-memory-dataloader", plain, 3)]
    (neuron,) = site_notes(site, "neuron")
    assert neuron.endswith(f"`porttool rewrite --unsafe-fixes --target neuron` changes {plain}:5 "
                           "(PT401: Set `pin_memory=False`)")
    (xla,) = site_notes(site, "neuron-xla")
    assert "--target neuron-xla` changes" in xla
    (portable,) = site_notes(site, "portable")
    assert portable.endswith("`porttool rewrite --target portable` keeps it as it is "
                             "(PT401 keeps pinning for portable)")
    quiet = write(tmp_path / "quiet.py", LOADER.format(comment="  # porttool: ignore[PT401]"))
    (suppressed,) = site_notes([("pin-memory-dataloader", quiet, 3)], "neuron")
    assert "`porttool scan` reports no PT401 here (a suppression comment?)" in suppressed
    assert "--unsafe-fixes" not in suppressed


def test_library_and_unknown_sites_promise_no_rewrite(tmp_path: Path) -> None:
    notes = site_notes([("pin-memory-dataloader-library", "train.py", 9), ("pin-memory", "train.py", 12)],
                       "neuron")
    assert notes == [
        f"a DataLoader made by library code (called from train.py:9) pins its batches, which failed: "
        f"{PIN_FAILED}; porttool does not rewrite library code: turn pinning off where the library "
        "is configured",
        f"pinned host memory was requested (innermost line of your code: train.py:12) and failed: {PIN_FAILED}",
    ]
    assert not any("rewrite --" in n for n in notes)


def test_a_line_porttool_cannot_read_gets_no_claim(tmp_path: Path) -> None:
    (note,) = site_notes([("pin-memory-call", "<string>", 3)], "neuron")
    assert note == (f"`.pin_memory()` at <string>:3 failed: {PIN_FAILED} (PT402 covers such lines; "
                    "porttool cannot read <string> to say what it does there)")
