"""Every rendering of a counterexample, by file name, and writing them to a directory.

Rules:
1. ``renderings(cx)`` maps a file name to its text: ``<slug>.md`` (Markdown), ``<slug>.itf.json``
   (ITF), ``test_<slug>.py`` (a pytest regression file). Deterministic: the same value gives the
   same bytes.
2. ``write_all`` is the only function here that touches the file system.
"""

from __future__ import annotations

from pathlib import Path

from reports.counterexample import Counterexample


def renderings(cx: Counterexample) -> dict[str, str]:
    """File name -> text for the three renderings of ``cx``."""
    from reports import itf, markdown, regression

    stem = cx.slug()
    return {
        f"{stem}.md": markdown.render(cx),
        f"{stem}.itf.json": itf.dumps(cx),
        f"test_{stem.replace('-', '_')}.py": regression.render(cx),
    }


def write_all(cx: Counterexample, directory: Path) -> list[Path]:
    """Write the three renderings of ``cx`` into ``directory`` (created if needed); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in renderings(cx).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
