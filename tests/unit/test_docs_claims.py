"""The docs' claims about defaults are the code's: what the shipped default releases, in its own words."""
from __future__ import annotations

from pathlib import Path

from privib.models.release import describe_release
from privib.pipeline.config import parse_run_config

ROOT = Path(__file__).resolve().parents[2]


def _shipped_release() -> str:
    _, config = parse_run_config([])
    return str(config["model"]["release"])


def test_the_export_docs_name_what_the_shipped_default_releases():
    release = _shipped_release()
    words = {"sample": "one draw z ~ q(z|x) in the shipped default", "mean": "the mean of q(z|x) in the shipped default"}
    text = " ".join((ROOT / "docs" / "export.md").read_text().split())
    assert words[release] in text, f"docs/export.md must say the shipped default releases {describe_release(release)}"


def test_no_doc_says_encode_returns_the_mean_by_default():
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        text = " ".join(page.read_text().split()).lower()
        for claim in ("encode() returns the mean", "encode(dataframe)` returns the mean", "returns the mean of q(z|x) by default"):
            assert claim not in text, f"{page.name}: '{claim}'"
