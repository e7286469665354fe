"""Running ``aiida-ifacerank`` in the test process, and what a clean refusal looks like."""

from click.testing import CliRunner

from aiida_ifacerank.cli import cmd_root


def invoke(*arguments):
    """Result of ``aiida-ifacerank ARGUMENTS`` run in process (click's runner)."""
    return CliRunner().invoke(cmd_root, [str(argument) for argument in arguments])


def one_clean_error(result, text):
    """Non-zero exit, the message on one line, no traceback."""
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and text in lines[0], result.output
    assert 'Traceback' not in result.output
