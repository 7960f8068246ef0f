"""The typer application object and consoles shared by every command module."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from typer.core import TyperOption

# Width used when stdout/stderr is a file or a pipe: wide enough that no table, path or timing
# ("21.8 s") is broken across lines; $COLUMNS still wins when set.
PIPE_WIDTH = 200


class CalbioConsole(Console):
    """A rich Console that does not wrap at 80 columns when its stream is not a terminal."""

    @property
    def size(self) -> ConsoleDimensions:  # type: ignore[override]
        """Terminal size; for files and pipes ``$COLUMNS`` or a wide default."""
        dims = super().size
        if self.is_terminal or self._width is not None:
            return dims
        cols = os.environ.get("COLUMNS", "")
        return ConsoleDimensions(int(cols) if cols.isdigit() else PIPE_WIDTH, dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Print; text is never soft-wrapped into a pipe or file."""
        if "soft_wrap" not in kwargs and not self.is_terminal:
            kwargs["soft_wrap"] = True
        super().print(*objects, **kwargs)


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    """Switches take no value: show no ``<bool>`` type next to ``--force`` in help."""
    if self.is_flag and self.metavar is None:
        return None
    return _plain_type(self, ctx)


_plain_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="calbio",
    help="Learn associations between biological entities and evaluate them honestly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # help strings are plain text: "calbio[index]" must not be read as rich markup
    rich_markup_mode=None,
)
console = CalbioConsole()
err_console = CalbioConsole(stderr=True)


def _version(value: bool) -> None:
    if value:
        from calbio.core.version import __version__

        console.print(f"calbio {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only warnings and errors (no progress)")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug messages too")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print calbio's version and exit"
        ),
    ] = False,
) -> None:
    """Learn associations between biological entities and evaluate them honestly."""
    from calbio.core.logs import setup_logging, verbosity_level

    setup_logging(verbosity_level(quiet, verbose), stream=err_console.file)
