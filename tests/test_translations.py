"""French and English from day one: every message in the code and templates has a French translation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "perception" / "translations" / "fr" / "LC_MESSAGES"


def test_every_message_has_a_french_translation(tmp_path: Path) -> None:
    template = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-o",
            str(template),
            "perception",
            "templates",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wanted = {message.id for message in read_po(template.open("rb")) if message.id}
    french = {message.id: message for message in read_po((CATALOG / "messages.po").open("rb")) if message.id}
    missing = sorted(str(key) for key in wanted - set(french))
    assert not missing, f"not in messages.po (run pybabel extract and update): {missing[:5]}"
    untranslated = sorted(str(key) for key in wanted if not french[key].string or french[key].fuzzy)
    assert not untranslated, f"untranslated or fuzzy in messages.po: {untranslated[:5]}"


def test_the_compiled_catalog_matches_the_translations() -> None:
    """Compared message by message: the bytes of a .mo differ between Babel versions."""
    with (CATALOG / "messages.po").open("rb") as source:
        catalog = read_po(source)
    with (CATALOG / "messages.mo").open("rb") as source:
        compiled = read_mo(source)

    def key(message: Message) -> tuple[object, object]:
        # Plural messages have a tuple of ids and of strings (a list when read from the .mo).
        return (tuple(message.id) if isinstance(message.id, list | tuple) else message.id, message.context)

    def strings(message: Message) -> object:
        return tuple(message.string) if isinstance(message.string, list | tuple) else message.string

    wanted = {key(message): strings(message) for message in catalog if message.id and not message.fuzzy}
    found = {key(message): strings(message) for message in compiled if message.id}
    assert found == wanted, "messages.mo is stale: run pybabel compile -d perception/translations"
