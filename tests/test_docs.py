"""The hand-written reference pages keep up with the code.

``docs/settings.md`` documents every key of ``conf.DEFAULTS`` (with its type and its
default) and ``docs/checks.md`` every system check id the package can emit, each under a
heading of its own. Nothing is generated at build time, so these tests are what says that
a new setting or check still needs its entry, or that an entry outlived its code.
"""

import re
from pathlib import Path

import pytest

from django_prodpatterns.conf import DEFAULTS, TENANT_MODEL_SETTING

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "django_prodpatterns"
CHECK_ID = re.compile(r"\bprodpatterns\.[EW]\d+\b")
HEADING = re.compile(r"^#{1,6} ")


def sections(page: str) -> dict[str, str]:
    """``{heading line: the text under it, up to the next heading}`` of a docs page,
    outside fenced code blocks."""
    found: dict[str, str] = {}
    current, fenced = None, False
    for line in (DOCS / page).read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and HEADING.match(line):
            current = line
            found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


def emitted_check_ids() -> list[str]:
    """Every ``prodpatterns.E…``/``W…`` id written anywhere in the package's files."""
    ids: set[str] = set()
    for path in PACKAGE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            ids.update(CHECK_ID.findall(path.read_text(encoding="utf-8", errors="ignore")))
    return sorted(ids)


def documented_default(value: object) -> str:
    """How the settings page writes a default: strings in double quotes, else repr."""
    return f'`"{value}"`' if isinstance(value, str) else f"`{value!r}`"


def setting_section(key: str) -> str | None:
    for heading, text in sections("settings.md").items():
        if f"`{key}`" in heading:
            return text
    return None


def test_the_package_emits_check_ids():
    """Guards the scan below: a scan that found nothing would let every check test pass."""
    assert {"prodpatterns.E001", "prodpatterns.W001"} <= set(emitted_check_ids())


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_setting_has_an_entry_with_type_and_default(key):
    text = setting_section(key)
    assert text is not None, f"docs/settings.md has no heading for PRODPATTERNS[{key!r}]"
    assert "**Type**" in text, f"docs/settings.md: PRODPATTERNS[{key!r}] says no type"
    default = [line for line in text.splitlines() if line.startswith("- **Default**")]
    assert default, f"docs/settings.md: PRODPATTERNS[{key!r}] says no default"
    assert documented_default(DEFAULTS[key]) in default[0], (
        f"docs/settings.md: the default of PRODPATTERNS[{key!r}] is "
        f"{documented_default(DEFAULTS[key])}, the page says {default[0]!r}"
    )


def test_every_documented_setting_exists():
    documented = {
        match.group(1)
        for heading in sections("settings.md")
        if (match := re.search(r"`([A-Z][A-Z0-9_]+)`", heading))
    }
    stale = documented - set(DEFAULTS) - {TENANT_MODEL_SETTING}
    assert not stale, f"docs/settings.md documents settings conf.py does not have: {stale}"


@pytest.mark.parametrize("check_id", emitted_check_ids())
def test_every_check_id_has_an_entry(check_id):
    headings = [heading for heading in sections("checks.md") if check_id in heading]
    assert headings, f"docs/checks.md has no heading for {check_id}"
    text = sections("checks.md")[headings[0]]
    assert "**Fix**" in text, f"docs/checks.md: {check_id} says no fix"


def test_every_documented_check_id_is_emitted():
    documented = {
        check_id for heading in sections("checks.md") for check_id in CHECK_ID.findall(heading)
    }
    stale = documented - set(emitted_check_ids())
    assert not stale, f"docs/checks.md documents check ids the package never emits: {stale}"
