"""What a job's artifact carries: one prepared notebook, or a folder with it.

A folder is laid out for ADS exactly as `NotebookRuntime.with_source(folder, notebook=...)`
expects a local source folder: the files under `<folder>/<name>/`, which ADS copies to
`code/<name>/` in the artifact, with `JOB_RUN_NOTEBOOK=<name>/<notebook>`. ADS's driver then
runs the notebook in its own folder (the kernel's working directory, so `import utils`
finds a `utils.py` beside it) and uploads that folder's files as the run's outputs.

The digest of the content covers every file's path and bytes (the notebook's prepared
bytes, with the injected parameters cell): change one file and the job changes; run
parameters are not in it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from notebook_launcher.function.notebook_source import NotebookSource
from notebook_launcher.function.parameter_names import ParametersCell, read_prepared


@dataclass(frozen=True)
class ArtifactContent:
    notebook_file_name: str  # JOB_RUN_NOTEBOOK: "report.ipynb", or "<name>/<notebook>"
    prepared: bytes  # the notebook as it ships (parameters cell injected)
    source: NotebookSource | None = None

    @classmethod
    def of_source(cls, source: NotebookSource, prepared: bytes) -> ArtifactContent:
        return cls(f"{source.name}/{source.notebook}", prepared, source)

    @cached_property
    def parameters_cell(self) -> ParametersCell:
        """The names the notebook's `parameters` cell assigns (kept as is in prepared)."""
        return read_prepared(self.prepared)

    def files(self) -> list[tuple[str, bytes]]:
        """Every shipped file by path under the folder, the prepared notebook in its place."""
        if self.source is None:
            return [(self.notebook_file_name, self.prepared)]
        return [
            (f.path, self.prepared if f.path == self.source.notebook else f.content)
            for f in self.source.files
        ]

    def digest(self) -> str:
        """sha256 of the prepared notebook alone, or of every (path, sha256) of a folder."""
        if self.source is None:
            return hashlib.sha256(self.prepared).hexdigest()
        listing = [[path, hashlib.sha256(content).hexdigest()] for path, content in self.files()]
        canonical = json.dumps(
            {"folder": self.source.name, "notebook": self.source.notebook, "files": listing},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def stage(self, directory: str) -> tuple[str, str | None]:
        """Write the content under directory for ADS: (the path to give ADS, the notebook's
        path inside it for `with_source`, or None for `with_notebook`)."""
        if self.source is None:
            path = Path(directory) / self.notebook_file_name
            path.write_bytes(self.prepared)
            return str(path), None
        top = Path(directory) / self.source.name
        for relative, content in self.files():
            target = top.joinpath(*relative.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return str(top), self.source.notebook

    def manifest(self) -> dict[str, Any] | None:
        """For dry runs: the files that would ship and their total size."""
        if self.source is None:
            return None
        shipped = self.files()
        files = [{"path": path, "bytes": len(content)} for path, content in shipped]
        return {
            "location": self.source.location,
            "folder": self.source.name,
            "notebook": self.source.notebook,
            "fileCount": len(files),
            "totalBytes": sum(len(content) for _, content in shipped),
            "files": files,
        }
