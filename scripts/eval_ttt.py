"""Thin wrapper over `assistant eval`: the evaluation harness for test-time learning.

    python scripts/eval_ttt.py lm /usr/share/doc/python3.11/html/_sources --out .eval/lm --steps 8
    python scripts/eval_ttt.py lm /usr/share/doc/python3.11/html/_sources --out .eval/lm --steps 8 --duplicate 4
    python scripts/eval_ttt.py qa corpus --out .eval/qa
"""

import sys

from assistant.cli.main import cli

if __name__ == "__main__":
    sys.exit(cli(["eval", *sys.argv[1:]]))
