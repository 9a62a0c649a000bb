"""``python -m shopveil``: the command line, as the ``shopveil`` script runs it."""

from shopveil.cli import main

if __name__ == "__main__":
    main()
