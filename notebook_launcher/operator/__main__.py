"""`python -m notebook_launcher.operator`: the operator commands (policies, di-task)."""

from notebook_launcher.operator.cli import operator

if __name__ == "__main__":
    operator()
