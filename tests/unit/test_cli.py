"""The console script's arguments: a bad number is one usage line (exit 2), never a
traceback from the broker client (SPEC 2)."""

import pytest

from idp.cli import _parser


@pytest.mark.parametrize(
    "argv",
    [
        ["worker", "--concurrency", "-5"],
        ["worker", "--concurrency", "0"],
        ["worker", "--concurrency", "70000"],
        ["worker", "--concurrency", "many"],
        ["dev", "--workers", "0"],
        ["bench", "--duration", "0"],
        ["bench", "--concurrency", "1001"],
    ],
)
def test_out_of_range_numbers_are_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(argv)
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"idp {argv[0]}: error: argument {argv[1]}: "), error


def test_numbers_in_range_are_taken() -> None:
    assert _parser().parse_args(["worker", "--concurrency", "1000"]).concurrency == 1000
    assert _parser().parse_args(["bench", "--duration", "2.5"]).duration == 2.5
