"""The catalogues are complete: every message `pybabel extract` finds in the code and templates is
translated in every language, with the same placeholders, and the compiled catalogue the app
reads is the one built from it (README: "Adding a language")."""
import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

PROJECT = Path(__file__).resolve().parent.parent
TRANSLATIONS = PROJECT / "clinica_web" / "translations"
# The services' messages are found in their error classes' calls (clinica_web/services/errors.py):
# the Makefile's list, which `make translations` extracts with.
_MAKEFILE_KEYWORDS = re.search(r"^ERROR_KEYWORDS := (.*?[^\\])$", (PROJECT / "Makefile").read_text(), re.M | re.S)
ERROR_KEYWORDS = re.findall(r"-k (\w+)", _MAKEFILE_KEYWORDS[1])
LANGUAGES = sorted(path.name for path in TRANSLATIONS.iterdir() if (path / "LC_MESSAGES" / "messages.po").exists())


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """What the code and templates say today, extracted as the README's workflow does."""
    template = tmp_path_factory.mktemp("catalogue") / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    keywords = ["lazy_gettext", "_l", "N_", *ERROR_KEYWORDS]
    options = [option for name in keywords for option in ("-k", name)]
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", *options, "--ignore-dirs", ".*",
                    "-o", str(template), "."], cwd=PROJECT, check=True)
    with template.open("rb") as file:
        return read_po(file)


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value


def _catalogue(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file)


def test_spanish_is_there():
    assert "es" in LANGUAGES


def test_every_error_raised_with_words_is_extracted():
    """A DomainError class raised with a message in the code is one `make translations` extracts
    (else the message would drop out of the catalogues, and be read in English)."""
    import clinica_web
    from clinica_web.services.errors import DomainError
    for module in pkgutil.walk_packages(clinica_web.__path__, "clinica_web."):  # every error class defined
        importlib.import_module(module.name)
    classes, pending = set(), [DomainError]
    while pending:
        cls = pending.pop()
        classes.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    raised = set()
    for path in (PROJECT / "clinica_web").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in classes
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                raised.add(getattr(node.func, "id", getattr(node.func, "attr", None)))
    assert raised and raised <= set(ERROR_KEYWORDS), raised - set(ERROR_KEYWORDS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(extracted, language):
    catalogue = _catalogue(language)
    missing = []
    for message in extracted:
        if not message.id:
            continue
        translated = catalogue.get(message.id, message.context)
        strings = translated.string if translated else None
        if not translated or "fuzzy" in translated.flags or not strings or (
                isinstance(strings, tuple) and not all(strings)):
            missing.append(message.id)
    assert not missing, f"{len(missing)} messages not translated into {language} (make translations): {missing[:20]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language):
    problems = [(message.id, [str(error) for error in errors]) for message, errors in _catalogue(language).check()]
    assert not problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_built_from_the_current_one(language):
    folder = TRANSLATIONS / language / "LC_MESSAGES"
    assert (folder / "messages.mo").exists(), "run make install (it compiles the catalogues)"
    with (folder / "messages.mo").open("rb") as file:  # a plural's id and forms are lists there, tuples in the .po
        compiled = {_tuple(message.id): _tuple(message.string) for message in read_mo(file) if message.id}
    written = {message.id: message.string for message in _catalogue(language) if message.id and message.string}
    assert compiled == written, "the .mo is older than the .po: run make install"
