"""Does an object's first bytes match its declared content type? Pure; no I/O."""

import codecs
from collections.abc import Callable
from typing import Final

# Bytes read from the start of an object to check it (one ranged GET).
SNIFF_BYTES: Final = 512

_TEXT_CONTROLS: Final = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D}


def _png(head: bytes) -> bool:
    return head.startswith(b"\x89PNG\r\n\x1a\n")


def _jpeg(head: bytes) -> bool:
    return head.startswith(b"\xff\xd8\xff")


def _gif(head: bytes) -> bool:
    return head.startswith((b"GIF87a", b"GIF89a"))


def _webp(head: bytes) -> bool:
    return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _pdf(head: bytes) -> bool:
    return head.startswith(b"%PDF-")


def text_matches(head: bytes, *, whole: bool) -> bool:
    """UTF-8 without control characters (C0 but tab, LF, FF, CR; DEL; C1). When ``head``
    is only the object's start, the window may end inside a character: an incomplete
    sequence there is fine. Bytes that can never be UTF-8 (``\xff``, a stray continuation
    byte) are refused wherever they are, and so is a cut character at the real end of the
    file (``whole``)."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if any(byte in _TEXT_CONTROLS or byte == 0x7F for byte in head):
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError:
        return False
    # The C1 controls are control characters too (U+009B is a terminal's CSI).
    return not any("\x80" <= ch <= "\x9f" for ch in text)


SIGNATURES: Final[dict[str, Callable[[bytes], bool]]] = {
    "image/png": _png,
    "image/jpeg": _jpeg,
    "image/gif": _gif,
    "image/webp": _webp,
    "application/pdf": _pdf,
}


def matches(content_type: str, head: bytes, *, whole: bool) -> bool:
    """True when ``head`` (the object's first bytes; all of them when ``whole``) is what
    ``content_type`` says it is."""
    if content_type == "text/plain":
        return text_matches(head, whole=whole)
    check = SIGNATURES.get(content_type)
    return check is not None and check(head)
