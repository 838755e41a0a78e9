"""Print ``export KEY='value'`` lines for a .env file's variables not already set.

Used by scripts/run: the file is read by python-dotenv, with its rules for quotes,
``export`` prefixes, comments, CRLF line ends and a last line without a newline.
"""

import os
import re
import shlex
import sys

from dotenv import dotenv_values

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

for key, value in dotenv_values(sys.argv[1]).items():
    if value is not None and NAME.match(key) and key not in os.environ:
        print(f"export {key}={shlex.quote(value)}")
