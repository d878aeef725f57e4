"""``commands.dataset.writer.write_for_azure``: only the file's own BOM and line ends change."""

from __future__ import annotations

from pathlib import Path

from commands.dataset.writer import write_for_azure

BOM = b"\xef\xbb\xbf"


def test_only_the_first_bom_and_the_line_ends_are_rewritten(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(BOM + b'{"a": 1}\t \r\n' + BOM + b'{"b": 2}X\n\n  \r\n{"c": 3} ')
    out = write_for_azure(src, tmp_path / "out.jsonl")
    assert out.read_bytes() == BOM + b'{"a": 1}\t \n' + BOM + b'{"b": 2}X\n{"c": 3} \n'
