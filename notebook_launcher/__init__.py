"""notebook-launcher: run Jupyter notebooks as OCI Data Science job runs from an OCI Function."""

__version__ = "0.1.0"
