"""The shape of genbench/cli/ (issue 15, item 10): a thin composition root, one module per
command group, each option that several commands share declared once, and a start-up that
imports neither torch nor pandas."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

import typer
from typer.models import ParameterInfo

import genbench.cli
from genbench.cli import app
from genbench.cli.options import SubWorkdirOpt, WorkdirOpt

PACKAGE = Path(genbench.cli.__file__).parent


def lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_the_root_only_composes_the_app():
    assert lines(PACKAGE / "__init__.py") <= 120


def test_no_module_is_large():
    sizes = {path.name: lines(path) for path in PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}
    assert len(sizes) >= 8, sizes  # one module per command group, not one file again


def commands(typer_app: typer.Typer, prefix: str = ""):
    """(name, function) of every command, group callback and subcommand."""
    for info in typer_app.registered_commands:
        yield f"{prefix}{info.name or info.callback.__name__}", info.callback
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        if sub.registered_callback is not None:
            yield f"{prefix}{group.name}", sub.registered_callback.callback
        yield from commands(sub, f"{prefix}{group.name} ")


def declarations(fn):
    """(parameter, its typer.Option or typer.Argument, the annotated type) of a command."""
    for name, hint in typing.get_type_hints(fn, include_extras=True).items():
        if typing.get_origin(hint) is typing.Annotated:
            for info in hint.__metadata__:
                if isinstance(info, ParameterInfo):
                    yield name, info, hint.__origin__


def test_commands_are_all_registered():
    names = [name for name, _ in commands(app)]
    assert len(names) == len(set(names)) >= 17
    for name in ("models", "score", "run", "sweep", "runs", "runs show", "leaderboard compare"):
        assert name in names


def test_an_option_declared_alike_in_two_commands_is_one_alias():
    """Two commands that declare the same option (names, help, env var, type) must take it
    from one alias in genbench/cli/options.py, so that it cannot drift apart."""
    seen: dict[tuple, tuple[str, ParameterInfo]] = {}
    copies = []
    for command, fn in commands(app):
        for name, info, kind in declarations(fn):
            key = (type(info).__name__, info.param_decls or (name,), info.help,
                   info.envvar, repr(kind))
            if key in seen and seen[key][1] is not info:
                copies.append(f"{key[1]} in {seen[key][0]!r} and {command!r}")
            seen.setdefault(key, (command, info))
    assert copies == []


def test_every_workdir_is_the_same_option():
    """``--workdir`` says the same and reads the same variable in every command."""
    aliases = {id(hint.__metadata__[0]) for hint in (WorkdirOpt, SubWorkdirOpt)}
    found = [(command, info) for command, fn in commands(app)
             for name, info, _ in declarations(fn) if name == "workdir"]
    assert len(found) >= 12
    assert [command for command, info in found if id(info) not in aliases] == []
    assert {info.envvar for _, info in found} == {"GENBENCH_WORKDIR"}
    assert len({info.help.split(" (default")[0].rstrip(".") for _, info in found}) == 1


def test_importing_the_cli_imports_neither_torch_nor_pandas():
    heavy = ("torch", "pandas", "genbench.api")
    code = ("import sys, genbench.cli; "
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
