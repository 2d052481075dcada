"""The job shapes the local service offers (ListJobShapes) and checks jobs against.

OCI answers ListJobShapes with the region's shapes for the tenancy; the list here is fixed:
common Data Science job shapes, with their largest core count and memory (the Flex shapes'
upper bounds, fixed shapes' size), from OCI's compute shape tables. `shapeSeries` follows the
SDK's enum (AMD_ROME, INTEL_SKYLAKE, NVIDIA_GPU, GENERIC, LEGACY, ARM); the enum has no
newer AMD series, so the E4 and E5 Flex shapes are listed as AMD_ROME (a local choice).

ListFastLaunchJobConfigs (FastLaunchJobConfigSummary: name, shapeName, coreCount,
memoryInGBs, shapeSeries, managedEgressSupport) lists the configurations OCI keeps warm for
quick starts. Which ones a region offers is not documented; the local list is a few small
configurations of the shapes above, named `<shape>-<cores>-<GB>` (a local choice). Every
run starts at once locally, fast launch or not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobShape:
    """One JobShapeSummary."""

    name: str
    core_count: int
    memory_in_gbs: int
    series: str

    @property
    def flexible(self) -> bool:
        return self.name.endswith(".Flex")

    def summary(self) -> dict[str, object]:
        return {
            "name": self.name,
            "coreCount": self.core_count,
            "memoryInGBs": self.memory_in_gbs,
            "shapeSeries": self.series,
        }


JOB_SHAPES: tuple[JobShape, ...] = (
    JobShape("VM.Standard.E3.Flex", 64, 1024, "AMD_ROME"),
    JobShape("VM.Standard.E4.Flex", 64, 1024, "AMD_ROME"),
    JobShape("VM.Standard.E5.Flex", 94, 1049, "AMD_ROME"),
    JobShape("VM.Standard3.Flex", 32, 512, "INTEL_SKYLAKE"),
    JobShape("VM.Optimized3.Flex", 18, 256, "INTEL_SKYLAKE"),
    JobShape("VM.Standard.A1.Flex", 80, 512, "ARM"),
    JobShape("VM.Standard2.1", 1, 15, "INTEL_SKYLAKE"),
    JobShape("VM.Standard2.2", 2, 30, "INTEL_SKYLAKE"),
    JobShape("VM.Standard2.4", 4, 60, "INTEL_SKYLAKE"),
    JobShape("VM.Standard2.8", 8, 120, "INTEL_SKYLAKE"),
    JobShape("VM.Standard2.16", 16, 240, "INTEL_SKYLAKE"),
    JobShape("VM.Standard2.24", 24, 320, "INTEL_SKYLAKE"),
    JobShape("VM.GPU2.1", 12, 72, "NVIDIA_GPU"),
    JobShape("VM.GPU3.1", 6, 90, "NVIDIA_GPU"),
    JobShape("VM.GPU3.2", 12, 180, "NVIDIA_GPU"),
    JobShape("VM.GPU3.4", 24, 360, "NVIDIA_GPU"),
    JobShape("VM.GPU.A10.1", 15, 240, "NVIDIA_GPU"),
    JobShape("VM.GPU.A10.2", 30, 480, "NVIDIA_GPU"),
)

BY_NAME = {shape.name: shape for shape in JOB_SHAPES}


def _fast_launch(shape: str, cores: int, memory: int, series: str) -> dict[str, object]:
    return {
        "name": f"{shape}-{cores}-{memory}",
        "shapeName": shape,
        "coreCount": cores,
        "memoryInGBs": memory,
        "shapeSeries": series,
        "managedEgressSupport": "SUPPORTED",
    }


FAST_LAUNCH_JOB_CONFIGS: tuple[dict[str, object], ...] = (
    _fast_launch("VM.Standard.E4.Flex", 1, 16, "AMD_ROME"),
    _fast_launch("VM.Standard.E4.Flex", 2, 32, "AMD_ROME"),
    _fast_launch("VM.Standard2.1", 1, 15, "INTEL_SKYLAKE"),
    _fast_launch("VM.Standard2.2", 2, 30, "INTEL_SKYLAKE"),
)
