"""f1db's YAML, read strictly: exactly the subset its machine-written files use, and nothing else. Pure.

f1db writes block YAML only: mappings of ``key: scalar`` (a scalar plain, double-quoted without escapes,
or empty for null), lists of such mappings (``- key: value`` then ``  key: value``), and a few nested
block lists (an entrant's ``drivers:``, a circuit's ``previousNames:``). Anything outside that subset (a
flow collection, an anchor, a tag, a block scalar, a comment, a tab, a stray indent) is a
:class:`YamlSubsetError` naming the file, the line and the row, never a guess.

Every scalar comes out as the text written (``13:00`` stays ``"13:00"``, never YAML 1.1's sexagesimal 780;
``1950-05-13`` stays a string): the Structs of :mod:`ingestion.f1db.decode` give them their types.

Two readers:

- :func:`flat_json` turns a file of flat rows (every race file: a list of flat mappings) or a flat mapping
  (``race.yml``) into JSON text with a few C-speed regular expressions, which msgspec then decodes straight
  into Structs: the whole history (~35 MB of YAML) in about a second;
- :func:`parse` reads the small nested files (entrants, drivers, circuits...) line by line into
  ``dict``/``list``/``str``/``None``.
"""

from __future__ import annotations

import re

import msgspec

from ingestion.errors import IngestionError

__all__ = ["Node", "YamlSubsetError", "flat_json", "parse"]

Node = dict[str, "Node"] | list["Node"] | str | None


class YamlSubsetError(IngestionError):
    """A file of a release is outside f1db's YAML subset (or does not decode): one line naming the file,
    the row (0-based index of the list item, when there is one) and the line."""

    def __init__(self, path: str, problem: str, *, row: int | None = None, line: int | None = None) -> None:
        where = "".join(
            (f", row {row}" if row is not None else "", f", line {line}" if line is not None else "")
        )
        super().__init__(f"f1db file {path}{where}: {problem}")
        self.path = path
        self.problem = problem
        self.row = row
        self.line = line


_KEY = rb"[A-Za-z][A-Za-z0-9]*"
#: A plain scalar f1db writes: no indicator first, no ``: `` or `` #`` inside, no quote, backslash or tab,
#: no trailing space (``13:00``, ``1950-05-13``, ``-1.016944``, ``Autodromo Nazionale Monza``).
_PLAIN = (
    rb"(?:[^\s\"'#&*!|>%@`{}\[\],?:\\-]|-(?=[^\s]))"
    rb"(?:[^\n\t\"\\:#]|:(?=[^\s])|(?<=[^\s])#)*(?<=[^\s])"
)
_QUOTED = rb'"[^"\\\x00-\x1f]*"'
_VALUE = rb"(?: +(?:" + _QUOTED + rb"|" + _PLAIN + rb"))?"
_LIST_FILE = re.compile(rb"(?:(?:- |  )" + _KEY + rb":" + _VALUE + rb"\n|\n)*")
_MAP_FILE = re.compile(rb"(?:" + _KEY + rb":" + _VALUE + rb"\n|\n)*")
_NULLS = re.compile(rb"^((?:- |  )?" + _KEY + rb"): +(?:~|null|Null|NULL)$", re.M)
_PLAIN_VALUE = re.compile(rb"^((?:- |  )?" + _KEY + rb": +)(" + _PLAIN + rb")$", re.M)
_EMPTY = re.compile(rb":$", re.M)
_ITEM = re.compile(rb"^- (" + _KEY + rb"):", re.M)
_FIELD = re.compile(rb"^  (" + _KEY + rb"):", re.M)
_MAP_FIELD = re.compile(rb"^(" + _KEY + rb"):", re.M)
_LINE = re.compile(rb"( *)(- )?(?:(" + _KEY + rb"):" + _VALUE + rb"|(" + _QUOTED + rb"|" + _PLAIN + rb"))")


#: Bytes whose presence sends a flat file to the careful reader (:func:`parse`): comments, flow
#: collections, anchors, tags, block scalars, tabs, escapes, null spelled out. f1db's classification files
#: have none of them; checked in one pass (``bytes.translate``). A single quote is refused only where it
#: could open a quoted scalar (:data:`_OPENERS`): inside a plain value it is text (``Grand Prix d'Italie``).
_UNUSUAL = b"#\t\\\x00\x01[]{}&*!|>%@`~"
#: Where a single quote would begin a quoted scalar or key, and a whole value spelled as YAML's null
#: (``red-bull`` ends like ``null`` but is text): any of these sends the file to :func:`parse`.
_OPENERS = (b": '", b"- '", b"\n  '", b"\n'", b": null\n", b": Null\n", b": NULL\n")


def flat_json(path: str, text: bytes, *, rows: bool) -> bytes:
    """The JSON text of a file of flat rows (``rows``: ``- key: value`` items) or of one flat mapping,
    every scalar a JSON string (null when empty), keys as written. :class:`YamlSubsetError` when the
    file is anything else.

    f1db's files are so regular that a few ``bytes.replace`` (C speed) make the JSON once the file is shown
    to be nothing but such lines (counts of line starts and separators); a file that is not (a quoted value
    holding ``: ``, a comment...) is read line by line by :func:`parse` instead, which explains what is
    outside the subset."""
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n")  # YAML's line breaks: CRLF is one (1956's entrants.yml)
    text = text.strip(b"\n")
    if not text:
        return b"[]" if rows else b"{}"
    fast = _fast_json(text + b"\n", rows=rows)
    if fast is not None:
        return fast
    node = parse(path, text)
    if (rows and not isinstance(node, list)) or (not rows and not isinstance(node, dict)):
        raise YamlSubsetError(path, f"expected {'a list of rows' if rows else 'a mapping'}")
    for index, item in enumerate(node if isinstance(node, list) else [node]):
        if not isinstance(item, dict) or any(isinstance(v, list | dict) for v in item.values()):
            raise YamlSubsetError(path, "expected flat rows of scalars", row=index if rows else None)
    return msgspec.json.encode(node)


def _fast_json(text: bytes, *, rows: bool) -> bytes | None:
    """The JSON of ``text`` (LF line breaks, one trailing) by replacements, or None when any line might be
    more than ``key: plain or "quoted" scalar`` (or ``key:``) at its indent (then :func:`parse` reads it)."""
    if len(text.translate(None, _UNUSUAL)) != len(text) or b"\n\n" in text or b":  " in text:
        return None
    if text.startswith(b"'") or any(opener in text for opener in _OPENERS):
        return None
    lines = text.count(b"\n")
    quoted = text.count(b'"')
    if quoted:
        opening = text.count(b': "')
        if quoted != 2 * opening or text.count(b'"\n') != opening:
            return None  # a quote that is not a whole value
        text = text.replace(b': "', b": ").replace(b'"\n', b"\n")
    text = text.replace(b":\n", b": \x01\n")  # an empty value: null (marked; \x01 is absent, see _UNUSUAL)
    if text.count(b": ") != lines:
        return None  # a value holding ": ", or a line without a key
    if rows:
        items = text.count(b"\n- ") + 1
        if not text.startswith(b"- ") or items + text.count(b"\n  ") != lines or b"\n   " in text:
            return None  # a line at another indent, or not a row
        body = text[2:-1].replace(b": ", b'":"').replace(b"\n  ", b'","').replace(b"\n- ", b'"},{"')
        return (b'[{"' + body + b'"}]').replace(b'"\x01"', b"null")
    if text.startswith(b" ") or b"\n " in text or text.startswith(b"- "):
        return None
    body = text[:-1].replace(b": ", b'":"').replace(b"\n", b'","')
    return (b'{"' + body + b'"}').replace(b'"\x01"', b"null")


def _explain(path: str, text: bytes, *, rows: bool) -> None:
    """Raise :class:`YamlSubsetError` for the first line of ``text`` outside the flat subset."""
    row = -1
    lines = text.split(b"\n")
    for number, line in enumerate(lines[:-1] if lines and lines[-1] == b"" else lines, start=1):
        if not line:
            continue
        if line.startswith(b"- "):
            row += 1
        ok = _LINE.fullmatch(line)
        indent = len(ok.group(1)) if ok else -1
        good = ok is not None and ok.group(3) is not None and (
            (rows and ((indent == 0 and ok.group(2)) or (indent == 2 and not ok.group(2))))
            or (not rows and indent == 0 and not ok.group(2))
        )
        if not good or (rows and row < 0):
            shown = line[:60].decode("utf-8", "replace")
            raise YamlSubsetError(
                path,
                f"not in f1db's YAML subset: {shown!r}",
                row=row if rows and row >= 0 else None,
                line=number,
            )
    raise YamlSubsetError(path, "not in f1db's YAML subset")  # pragma: no cover - the fullmatch said so


def _scalar(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    if raw.startswith(b'"'):
        return raw[1:-1].decode()
    if raw in (b"~", b"null", b"Null", b"NULL"):
        return None
    return raw.decode()


def parse(path: str, text: bytes) -> Node:
    """The nested block YAML of ``text`` (a mapping or a list at the top), scalars as written (str, or None
    when empty). :class:`YamlSubsetError` for anything outside f1db's subset."""
    items: list[tuple[int, int, bool, str | None, str | None, bool]] = []  # line, indent, dash, key, value
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n")
    row = -1
    for number, line in enumerate(text.split(b"\n"), start=1):
        if not line:
            continue
        if line.startswith(b"- "):
            row += 1
        match = _LINE.fullmatch(line)
        if match is None:
            raise YamlSubsetError(
                path,
                f"not in f1db's YAML subset: {line[:60].decode('utf-8', 'replace')!r}",
                row=row if row >= 0 else None,
                line=number,
            )
        spaces, dash, key, scalar = match.group(1, 2, 3, 4)
        value: bytes | None = None
        if key is not None:
            rest = line[match.end(3) + 1 :].lstrip(b" ")
            value = rest or None
        else:
            value = scalar
        try:
            items.append(
                (number, len(spaces), dash is not None, key.decode() if key else None, _scalar(value),
                 key is not None and value is None)
            )
        except UnicodeDecodeError:
            raise YamlSubsetError(path, "not UTF-8", row=row if row >= 0 else None, line=number) from None
    if not items:
        return None
    try:
        node, end = _block(path, items, 0, items[0][1])
        if end != len(items):
            raise YamlSubsetError(path, "unexpected indentation", line=items[end][0])
    except YamlSubsetError as error:
        if error.line is None or error.row is not None:
            raise
        rows = sum(1 for item in items if item[0] <= error.line and item[1] == 0 and item[2]) - 1
        raise YamlSubsetError(path, error.problem, row=rows if rows >= 0 else None, line=error.line) from None
    return node


def _block(
    path: str, items: list[tuple[int, int, bool, str | None, str | None, bool]], i: int, indent: int
) -> tuple[Node, int]:
    """The block starting at item ``i`` (at ``indent``): a list when it starts with ``- ``, else a mapping."""
    if items[i][2]:
        out: list[Node] = []
        while i < len(items) and items[i][1] == indent and items[i][2]:
            number, _, _, key, value, opens = items[i]
            if key is None:
                out.append(value)
                i += 1
                continue
            # a mapping item: its first pair is on the dash line, the rest at indent + 2
            first: dict[str, Node] = {}
            i = _pair(path, items, i, indent + 2, first, key, value, opens)
            if i < len(items) and items[i][1] == indent + 2 and not items[i][2]:
                rest, i = _block(path, items, i, indent + 2)
                assert isinstance(rest, dict)
                for k, v in rest.items():
                    if k in first:
                        raise YamlSubsetError(path, f"duplicate key {k!r}", line=number)
                    first[k] = v
            out.append(first)
        return out, i
    mapping: dict[str, Node] = {}
    while i < len(items) and items[i][1] == indent and not items[i][2]:
        number, _, _, key, value, opens = items[i]
        if key is None:
            raise YamlSubsetError(path, "a scalar where a key was expected", line=number)
        if key in mapping:
            raise YamlSubsetError(path, f"duplicate key {key!r}", line=number)
        i = _pair(path, items, i, indent, mapping, key, value, opens)
    return mapping, i


def _pair(
    path: str,
    items: list[tuple[int, int, bool, str | None, str | None, bool]],
    i: int,
    indent: int,
    into: dict[str, Node],
    key: str,
    value: str | None,
    opens: bool,
) -> int:
    """Store ``key``'s value in ``into``: the scalar, or (an empty value followed by a deeper block, or a
    list at the same indent as YAML allows) that block. Returns the next item's index."""
    i += 1
    nxt = items[i] if i < len(items) else None
    if opens and nxt is not None and (nxt[1] > indent or (nxt[1] == indent and nxt[2])):
        block, i = _block(path, items, i, nxt[1])
        into[key] = block
    else:
        into[key] = value
    return i
