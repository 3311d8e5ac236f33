"""Development sessions: `nox -s lint tests demo plugins` (each in a fresh environment)."""

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over everything."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite; pass pytest arguments after --, e.g. `nox -s tests -- -m slow`."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job: DCGAN on the offline digits, quick profile."""
    session.install("-e", ".")
    session.run("genbench", "run", "dcgan", "--dataset", "digits",
                "--workdir", f"{session.create_tmp()}/work")


@nox.session
def plugins(session: nox.Session) -> None:
    """Install the example third-party plugin and check it is discovered and runs."""
    session.install("-e", ".[test]")
    session.install("./plugins/example-plugin")
    session.run("genbench", "plugins")
    session.run("genbench", "run", "example-gaussian", "--dataset", "ring8", "--steps", "50",
                "--workdir", f"{session.create_tmp()}/work")
    session.run("pytest", "-q", "tests/test_example_plugin.py")
