"""`python -m notebook_launcher`: the command-line tool."""

from notebook_launcher.cli import main

if __name__ == "__main__":
    main()
