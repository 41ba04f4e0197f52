"""Terminal escape sequences in untrusted text: one pattern for them, shared by the CLI and the web UI.

Transcripts hold whatever a tool printed or an agent wrote, including escape sequences a terminal acts on
(OSC-8 hyperlinks to `javascript:`, title changes, cursor moves, screen clears). Printing them raw lets a
transcript drive the reader's terminal, so text from a session goes through `strip_controls` first.
"""

from __future__ import annotations

import re

# CSI (group 1 = parameters, group 2 = final byte, so SGR colours can be read), OSC up to BEL or ST (an OSC
# never closed runs to the end of the text), and the other two-byte escapes; C1 CSI/OSC introducers too.
ANSI_RE = re.compile(
    r"(?:\x1b\[|\x9b)([0-9;?:<=>]*)[ -/]*([@-~])"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c|$)"
    r"|\x1b[ -/]*[0-~]?"
)
# C0 controls but tab and newline, DEL, C1 controls.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """`text` without escape sequences or control characters (tab and newline kept; CR becomes newline).

    >>> strip_controls("\\x1b]8;;javascript:alert(1)\\x1b\\\\click\\x1b]8;;\\x1b\\\\ \\x1b[2J\\x1b[31mred\\x1b[0m\\x07")
    'click red'
    """
    text = ANSI_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return CONTROL_RE.sub("", text)
