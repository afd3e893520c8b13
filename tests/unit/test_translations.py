"""One translation mechanism, and no user-facing string without its Chinese.

* Page texts, PDF labels and every other label catalog in ``app/`` are
  ``{en, zh}`` dicts: each must have both, non-empty (found by importing every
  module and walking its module-level values).
* Template strings go through Flask-Babel: every ``_("...")`` in
  ``app/templates`` has a Chinese translation (ours or Flask-AppBuilder's),
  every msgid of our catalog has a msgstr, and the compiled ``.mo`` is in step
  with the ``.po``.
(Domain error messages: ``test_error_messages_zh.py``.)
"""
from __future__ import annotations

import dataclasses
import importlib
import io
import pkgutil
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import app
from app.translations.compile import compiled

ROOT = Path(app.__file__).resolve().parent
PO = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
CJK = re.compile(r"[\u4e00-\u9fff]")


def app_modules():
    for info in pkgutil.walk_packages([str(ROOT)], prefix="app."):
        if ".translations" in info.name:
            continue
        yield importlib.import_module(info.name)


def labels_in(value, path: str, seen: set[int]):
    """Every ``{en: ...}`` dict reachable from ``value`` (dicts, lists, tuples,
    dataclasses), with where it was found."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        if "en" in value and all(isinstance(v, str) for v in value.values()):
            yield path, value
            return
        for k, v in value.items():
            yield from labels_in(v, f"{path}[{k!r}]", seen)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from labels_in(v, f"{path}[{i}]", seen)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from labels_in(getattr(value, f.name), f"{path}.{f.name}", seen)


def catalog_labels():
    seen: set[int] = set()
    for module in app_modules():
        for name, value in vars(module).items():
            if name.startswith("__") or getattr(value, "__module__", module.__name__) != module.__name__:
                continue
            yield from ((f"{module.__name__}.{name}{p}", label)
                        for p, label in labels_in(value, "", seen))


def test_every_label_in_app_has_english_and_chinese():
    found = list(catalog_labels())
    assert len(found) > 300, "the walk found too few labels to be looking in the right place"
    names = {where.split("[")[0] for where, _ in found}
    # the catalogs this issue is about are among them
    assert {"app.transfers.note.LABELS", "app.views.audit_pages.TEXT", "app.crud.screens.TEXT",
            "app.views.transfer_pages.TEXT", "app.views.inventory_pages.TEXT"} <= names
    problems = [f"{where}: {label}" for where, label in found
                if not (label.get("en") or "").strip() or not (label.get("zh") or "").strip()]
    assert problems == []


def test_the_label_walk_catches_a_missing_chinese_text():
    sample = {"ok": {"en": "Yes", "zh": "是"}, "bad": {"en": "No"}, "nested": [{"en": "x", "zh": ""}]}
    found = dict(labels_in(sample, "S", set()))
    assert set(found) == {"S['ok']", "S['bad']", "S['nested'][0]"}
    missing = [w for w, label in found.items() if not label.get("zh")]
    assert sorted(missing) == ["S['bad']", "S['nested'][0]"]


def test_every_msgid_of_the_catalog_has_a_chinese_msgstr():
    with PO.open("rb") as f:
        catalog = read_po(f)
    missing = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert missing == []
    assert len([m for m in catalog if m.id]) > 30


def _messages(catalog) -> dict:
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


def test_the_compiled_catalog_is_in_step_with_the_po():
    """`make translations` after editing the .po: the app reads the .mo."""
    with PO.open("rb") as f:
        po = _messages(read_po(f))
    with PO.with_suffix(".mo").open("rb") as f:
        mo = _messages(read_mo(f))
    assert mo == po, "run `make translations`"
    assert _messages(read_mo(io.BytesIO(compiled(PO)))) == po


def _fab_translated() -> set[str]:
    import flask_appbuilder
    fab_po = Path(flask_appbuilder.__file__).parent / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
    with fab_po.open("rb") as f:
        return {m.id for m in read_po(f) if m.id and m.string and not m.fuzzy}


def test_every_template_string_has_chinese():
    with PO.open("rb") as f:
        ours = {m.id for m in read_po(f) if m.id and m.string}
    translated = ours | _fab_translated()
    used = {}
    for filename, lineno, message, _, _ in extract_from_dir(
            str(ROOT / "templates"), method_map=[("**.html", "jinja2.ext:babel_extract")]):
        message = message[0] if isinstance(message, tuple) else message
        used.setdefault(message, f"{filename}:{lineno}")
    assert "Export CSV" in used
    assert {m: where for m, where in used.items() if m not in translated} == {}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pdf_labels_render_in_one_language(lang):
    from app.i18n import Texts
    from app.transfers.note import LABELS, page_counter_css
    labels = Texts(LABELS, lang).subset(LABELS)
    assert labels["title"] == ("Transfer note" if lang == "en" else "调拨单")
    counter = page_counter_css(labels["page_x_of_y"])
    assert "counter(page)" in counter and "counter(pages)" in counter
    assert bool(CJK.search(counter)) == (lang == "zh")
