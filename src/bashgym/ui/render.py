"""Turn untrusted transcript text into inert, readable HTML fragments.

Everything a session holds (prompts, tool inputs, outputs) came from an agent, a terminal or a file the
agent read: it may contain HTML, `<script>`, terminal escape codes, megabyte lines or binary bytes. Each
helper here escapes first and only then adds markup of its own, so the result is safe to drop into a
template as `Markup`. Colours are CSS classes, never inline styles (the app's CSP forbids those).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from markupsafe import Markup, escape

from bashgym.store import dumps
from bashgym.terminal import ANSI_RE as _ANSI_RE

# Outputs longer than this are collapsed behind a <details>; past MAX_RENDER_CHARS the page shows the head
# and tail and links the full text (served as text/plain).
COLLAPSE_LINES = 24
COLLAPSE_CHARS = 3000
MAX_RENDER_CHARS = 60_000

# Control characters other than tab and newline are shown as visible escapes, not passed to the browser.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SGR_COLOURS = {30, 31, 32, 33, 34, 35, 36, 37, 90, 91, 92, 93, 94, 95, 96, 97}


def _visible_controls(text: str) -> str:
    return _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\r\n", "\n").replace("\r", "\n"))


def looks_binary(text: str) -> bool:
    """True when a text is mostly not text (NUL bytes, many control characters or replacement chars).

    >>> looks_binary("hello\\n"), looks_binary("\\x00\\x01\\x02ELF\\x00\\x00")
    (False, True)
    """
    sample = text[:4096]
    if not sample:
        return False
    if "\x00" in sample:
        return True
    odd = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\n\t\r\x1b") or ch == "\ufffd")
    return odd / len(sample) > 0.1


def ansi_to_html(text: str) -> Markup:
    """Escape `text` and render its SGR colour codes (bold, 16 colours) as spans; drop other escapes.

    >>> str(ansi_to_html("\\x1b[31m<b>red</b>\\x1b[0m ok"))
    '<span class="ansi-31">&lt;b&gt;red&lt;/b&gt;</span> ok'
    """
    out: list[str] = []
    classes: list[str] = []
    pos = 0

    def emit(segment: str) -> None:
        if not segment:
            return
        safe = str(escape(_visible_controls(segment)))
        out.append(f'<span class="{" ".join(classes)}">{safe}</span>' if classes else safe)

    for m in _ANSI_RE.finditer(text):
        emit(text[pos:m.start()])
        pos = m.end()
        if m.group(2) != "m":
            continue  # cursor movement, OSC titles, ...: dropped
        codes = [int(c) for c in (m.group(1) or "0").replace("?", "").split(";") if c.isdigit()] or [0]
        for code in codes:
            if code == 0:
                classes = []
            elif code == 1:
                classes = [c for c in classes if c != "ansi-bold"] + ["ansi-bold"]
            elif code in _SGR_COLOURS:
                classes = [c for c in classes if not c[5:].isdigit()] + [f"ansi-{code}"]
            elif code == 39:
                classes = [c for c in classes if not c[5:].isdigit()]
    emit(text[pos:])
    return Markup("".join(out))


def output_block(text: str | None, *, raw_url: str | None = None) -> dict[str, Any]:
    """What the template needs to show one tool output: HTML, whether to collapse it, a preview.

    Binary output is shown as an escaped excerpt; huge output as head and tail with a link to the rest.
    """
    if text is None:
        return {"html": Markup('<span class="muted">(no output recorded)</span>'), "collapse": False,
                "preview": "", "lines": 0, "chars": 0, "truncated": False, "raw_url": raw_url, "binary": False}
    binary = looks_binary(text)
    shown = text
    truncated = False
    if binary:
        shown = repr(text[:2000])[1:-1]
        truncated = len(text) > 2000
    elif len(text) > MAX_RENDER_CHARS:
        half = MAX_RENDER_CHARS // 2
        shown = text[:half] + f"\n… {len(text) - 2 * half:,} characters not shown …\n" + text[-half:]
        truncated = True
    lines = text.count("\n") + 1
    first = _ANSI_RE.sub("", shown.split("\n", 1)[0])[:160]
    return {
        "html": ansi_to_html(shown),
        "collapse": lines > COLLAPSE_LINES or len(text) > COLLAPSE_CHARS or binary,
        "preview": _visible_controls(first),
        "lines": lines,
        "chars": len(text),
        "truncated": truncated,
        "raw_url": raw_url,
        "binary": binary,
    }


def _diff_lines(old: str, new: str, path: str) -> list[str]:
    return list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), fromfile=f"a/{path.lstrip('/')}", tofile=f"b/{path.lstrip('/')}", lineterm="", n=3
        )
    )


def diff_html(lines: list[str], filename: str | None = None) -> Markup:
    """Unified diff lines as escaped, coloured rows; with the file's name, their code coloured too."""
    rows = []
    total = sum(len(line) for line in lines[:4000])
    lexer = _lexer(filename) if filename and total <= MAX_HIGHLIGHT_CHARS else None
    for line in lines[:4000]:
        if line.startswith(("+++", "---")):
            cls = "diff-file"
        elif line.startswith("@@"):
            cls = "diff-hunk"
        elif line.startswith("+"):
            cls = "diff-add"
        elif line.startswith("-"):
            cls = "diff-del"
        else:
            cls = "diff-ctx"
        if lexer is not None and cls in ("diff-add", "diff-del", "diff-ctx") and line:
            body = _highlight_line(_visible_controls(line[1:2000]), lexer)
            rows.append(f'<span class="{cls}">{escape(line[0])}{body}</span>')
            continue
        rows.append(f'<span class="{cls}">{escape(_visible_controls(line[:2000]))}</span>')
    if len(lines) > 4000:
        rows.append(f'<span class="muted">… {len(lines) - 4000:,} more diff lines</span>')
    return Markup("".join(rows))  # each row is display:block


def edit_diff(tool_name: str | None, data: Any) -> Markup | None:
    """A diff for file-editing tool calls (Edit, MultiEdit, Write, apply_patch), else None."""
    if isinstance(data, str) and tool_name in ("apply_patch", "ApplyPatch"):
        return diff_html(data.splitlines())
    if not isinstance(data, dict):
        return None
    path = str(data.get("file_path") or data.get("path") or data.get("filename") or "file")
    if tool_name in ("Edit", "edit_file", "str_replace", "replace") and "old_string" in data:  # replace: Gemini
        return diff_html(_diff_lines(str(data.get("old_string") or ""), str(data.get("new_string") or ""), path), path)
    if tool_name == "MultiEdit" and isinstance(data.get("edits"), list):
        lines: list[str] = []
        for e in data["edits"]:
            if isinstance(e, dict):
                lines += _diff_lines(str(e.get("old_string") or ""), str(e.get("new_string") or ""), path)
        return diff_html(lines, path)
    if tool_name in ("Write", "write_file", "create_file") and isinstance(data.get("content"), str):
        return diff_html(_diff_lines("", data["content"], path), path)
    patch = data.get("patch") or data.get("input")
    if tool_name in ("apply_patch", "ApplyPatch") and isinstance(patch, str):
        return diff_html(patch.splitlines())
    return None


def input_text(data: Any) -> str:
    """A tool input as readable text: the command for shell calls, pretty JSON otherwise."""
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        for key in ("command", "cmd", "script"):
            value = data.get(key)
            if isinstance(value, str) and len(data) <= 3:
                rest = {k: v for k, v in data.items() if k != key}
                return value + ("\n# " + (dumps(rest) or "") if rest else "")
    import json

    try:
        return json.dumps(data, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(data)


def snippet_html(snippet: str) -> Markup:
    """An FTS snippet with \\x02/\\x03 match markers as escaped text with <mark> highlights."""
    parts = re.split(r"([\x02\x03])", snippet)
    out: list[str] = []
    for part in parts:
        if part == "\x02":
            out.append("<mark>")
        elif part == "\x03":
            out.append("</mark>")
        else:
            out.append(str(escape(_visible_controls(part))))
    return Markup("".join(out))


def short(text: str | None, n: int = 140) -> str:
    """One line, at most n characters (templates escape it)."""
    if not text:
        return ""
    line = " ".join(_visible_controls(_ANSI_RE.sub("", text[: n * 4])).split())
    return line if len(line) <= n else line[: n - 1] + "…"


def highlight(text: str | None, terms: list[str]) -> Markup:
    """Escaped text with each occurrence of the search terms (case-insensitive) wrapped in <mark>.

    >>> str(highlight("Fix <the> flaky test", ["flaky", "<the>"]))
    'Fix <mark>&lt;the&gt;</mark> <mark>flaky</mark> test'
    """
    text = text or ""
    if not terms:
        return Markup(escape(_visible_controls(text)))
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(text):
        out.append(str(escape(_visible_controls(text[pos:m.start()]))))
        out.append(f"<mark>{escape(_visible_controls(m.group()))}</mark>")
        pos = m.end()
    out.append(str(escape(_visible_controls(text[pos:]))))
    return Markup("".join(out))


MAX_HIGHLIGHT_CHARS = 20_000


def _lexer(filename: str | None = None, language: str | None = None) -> Any:
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        if language:
            return get_lexer_by_name(language, stripnl=False, ensurenl=False)
        if filename:
            return get_lexer_for_filename(filename, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None
    return None


def _highlight_line(line: str, lexer: Any) -> str:
    from pygments import highlight as pyg_highlight
    from pygments.formatters import HtmlFormatter

    # Pygments escapes what it emits; token colours are classes (the CSP forbids inline styles).
    return pyg_highlight(line, lexer, HtmlFormatter(nowrap=True, classprefix="hl-")).rstrip("\n")


def code_html(text: str, *, filename: str | None = None, language: str | None = None) -> Markup | None:
    """Source code (a shell command, a file's content) with syntax colours as escaped spans, or None
    when no lexer fits or the text is too long to colour quickly.

    >>> print(code_html("echo '<b>'", language="bash"))
    <span class="hl-nb">echo</span><span class="hl-w"> </span><span class="hl-s1">'&lt;b&gt;'</span>
    """
    if not text or len(text) > MAX_HIGHLIGHT_CHARS:
        return None
    lexer = _lexer(filename, language)
    if lexer is None:
        return None
    return Markup(_highlight_line(_visible_controls(text), lexer))

