"""The registry kept between runs (porttool.ruleset.registry_cache): reused only for the same rule files."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from porttool.ruleset import registry as registry_module
from porttool.ruleset import registry_cache
from porttool.ruleset.registry import builtin_rules_dir, load_registry

BUILTIN = builtin_rules_dir()


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of three built-in rules in a user rules folder; no racy window (files made just now)."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in ("PT101-cuda-is-available.toml", "PT102-cuda-device-count.toml", "PT100-cuda-api-other.toml"):
        shutil.copy(BUILTIN / "runtime" / name, folder / name)
    monkeypatch.setattr(registry_cache, "RACY_S", 0.0)
    return folder


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    parsed: list[Path] = []
    real = registry_module.load_rule_file

    def counting(path: Path):  # type: ignore[no-untyped-def]
        parsed.append(path)
        return real(path)

    monkeypatch.setattr(registry_module, "load_rule_file", counting)
    return parsed


def test_a_second_load_reads_no_rule_file_and_gives_the_same_registry(rules, monkeypatch):
    parsed = _count_parses(monkeypatch)
    first = load_registry([rules], builtin=False, cache=True)
    assert len(parsed) == 3 and list(registry_cache.folder().glob("*.pickle"))
    second = load_registry([rules], builtin=False, cache=True)
    assert len(parsed) == 3  # nothing parsed the second time
    assert second.signature == first.signature and [r.code for r in second] == ["PT100", "PT101", "PT102"]


def test_an_edited_added_or_removed_rule_file_is_a_miss(rules, monkeypatch):
    load_registry([rules], builtin=False, cache=True)
    target = rules / "PT101-cuda-is-available.toml"
    target.write_text(target.read_text().replace('severity = "error"', 'severity = "warning"').replace('severity = "info"', 'severity = "warning"'))
    edited = load_registry([rules], builtin=False, cache=True)
    assert edited.by_code["PT101"].severity.value == "warning"
    shutil.copy(BUILTIN / "runtime" / "PT104-cuda-set-device.toml", rules / "PT104-cuda-set-device.toml")
    assert "PT104" in load_registry([rules], builtin=False, cache=True).by_code
    (rules / "PT100-cuda-api-other.toml").unlink()
    assert "PT100" not in load_registry([rules], builtin=False, cache=True).by_code


def test_a_damaged_entry_is_a_miss(rules):
    expected = load_registry([rules], builtin=False, cache=True).signature
    for entry in registry_cache.folder().glob("*.pickle"):
        entry.write_bytes(b"\x80\x05not a pickle")
    assert load_registry([rules], builtin=False, cache=True).signature == expected


class _Payload:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("touch MARKER",))


def test_an_entry_naming_anything_but_porttool_classes_is_refused(rules, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = load_registry([rules], builtin=False, cache=True).signature
    for entry in registry_cache.folder().glob("*.pickle"):
        entry.write_bytes(pickle.dumps(_Payload()))
    assert load_registry([rules], builtin=False, cache=True).signature == expected
    assert not (tmp_path / "MARKER").exists()


def test_a_rule_set_changed_just_now_is_not_recorded(rules, monkeypatch):
    monkeypatch.setattr(registry_cache, "RACY_S", 3600.0)  # every file counts as "just changed"
    load_registry([rules], builtin=False, cache=True)
    assert not list(registry_cache.folder().glob("*.pickle"))


def test_without_cache_nothing_is_written(rules):
    load_registry([rules], builtin=False)
    assert not registry_cache.folder().exists()


def test_cli_no_cache_switches_write_no_rule_cache(tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("PORTTOOL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(registry_cache, "RACY_S", 0.0)
    (tmp_path / "m.py").write_text("import torch\nx = torch.zeros(1).cuda()\n")
    code, _, _ = run_cli("scan", "m.py", "--no-cache", cwd=tmp_path)
    assert code == 1 and not registry_cache.folder().exists()
    monkeypatch.setenv("PORTTOOL_NO_CACHE", "1")
    code, _, _ = run_cli("scan", "m.py", cwd=tmp_path)
    assert code == 1 and not registry_cache.folder().exists()
    monkeypatch.delenv("PORTTOOL_NO_CACHE")
    code, _, _ = run_cli("scan", "m.py", cwd=tmp_path)
    assert code == 1 and len(list(registry_cache.folder().glob("*.pickle"))) == 1  # (the switches were what stopped it)
