"""Run the project as ``python -m playing_with_mnist`` (the same as ``kedro run``).

Three commands run no pipeline: ``playing-with-mnist download ...`` downloads the real data
(:mod:`playing_with_mnist.ingest.download.cli`); ``serve`` and ``draw`` use a registered model
(:mod:`playing_with_mnist.serving.cli`).
"""

import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable


def main(*args: Any, **kwargs: Any) -> Any:
    # The argument list click would parse: the first positional argument or ``args=``, else sys.argv.
    argv = kwargs.get("args", args[0] if args else None)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["download"], ["serve"], ["draw"]):
        code = _command(argv[0])(argv[1:])
        if hasattr(sys, "ps1"):  # interactive: return the code instead of leaving the interpreter
            return code
        sys.exit(code)
    # Imported here: importing Kedro sets up its logging, which the download command does not want.
    from kedro.framework.cli.utils import find_run_command
    from kedro.framework.project import configure_project

    package_name = Path(__file__).parent.name
    configure_project(package_name)
    kwargs["standalone_mode"] = not hasattr(sys, "ps1")
    run = find_run_command(package_name)
    return run(*args, **kwargs)


def _command(name: str) -> Callable[[list[str]], int]:
    if name == "download":
        from playing_with_mnist.ingest.download.cli import main as download

        return download
    from playing_with_mnist.serving.cli import main as serving

    return partial(serving, name)


if __name__ == "__main__":
    main()
