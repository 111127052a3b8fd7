"""The SoC: units, memories, DMA engines, and the checks that tie their names together."""

from __future__ import annotations

from pydantic import Field

from socsim.config._base import Spec, Temp
from socsim.config.dma import DmaEngine, Interconnect
from socsim.config.memory import Memory
from socsim.config.power import Thermal
from socsim.config.units import Unit

#: A problem found by a cross-reference check: (field path, message).
PathProblem = tuple[tuple[str | int, ...], str]


class SoC(Spec):
    """A heterogeneous SoC.

    Units reach memories through the ``memories`` list of each unit (direct addressing: a unit
    reads and writes them in place); DMA engines copy between the memories they connect.
    """

    name: str = Field(description="Identifier used in reports.")
    description: str = Field("", description="What real part this models, and its sources.")
    units: dict[str, Unit] = Field(min_length=1, description="Compute units by name.")
    memories: dict[str, Memory] = Field(min_length=1, description="Memories by name.")
    dma: dict[str, DmaEngine] = Field(default_factory=dict, description="DMA engines by name.")
    interconnect: Interconnect | None = Field(
        None, description="Shared bus/NoC that DMA transfers cross and divide; None: "
        "transfers contend only for their channel and the DRAMs they touch.")
    ambient_c: Temp = Field(25.0, description="Ambient temperature of the thermal models, °C.")
    thermal_zones: dict[str, Thermal] = Field(
        default_factory=dict, description="Shared RC nodes by name (die regions, a package): "
        "every unit whose `thermal_zone` names one heats it with its power, and all of them "
        "see its temperature (leakage, the thermal governor's trip point).")
    inputs_in: str | None = Field(
        None, description="Memory where workload inputs arrive (a sensor or camera buffer); "
        "default: the first dram-kind memory, else the largest memory.")

    def check(self) -> list[PathProblem]:
        """Cross-reference checks pydantic cannot express field by field.

        Returns:
            One (field path, message) per dangling name, in document order.
        """
        problems: list[PathProblem] = []
        known = sorted(self.memories)
        for uname, unit in self.units.items():
            for i, mem in enumerate(unit.memories):
                if mem not in self.memories:
                    problems.append((("units", uname, "memories", i),
                                     f"unknown memory {mem!r}; this SoC has {known}"))
            cache = unit.weights_cache
            if cache is not None and cache in self.memories:
                if self.memories[cache].kind != "sram":
                    problems.append((("units", uname, "weights_cache"),
                                     f"{cache!r} is a {self.memories[cache].kind}; weights are "
                                     "paged into an sram"))
                elif unit.weights_in in self.memories and self.dma_between(
                        unit.weights_in, cache) is None:
                    problems.append((("units", uname, "weights_cache"),
                                     f"no DMA engine connects weights_in {unit.weights_in!r} "
                                     f"and {cache!r}: add one that can page weights in"))
        for uname, unit in self.units.items():
            zone = unit.thermal_zone
            if zone is not None and zone not in self.thermal_zones:
                problems.append((("units", uname, "thermal_zone"),
                                 f"unknown thermal zone {zone!r}; this SoC has "
                                 f"{sorted(self.thermal_zones)} (add it under thermal_zones)"))
            elif zone is not None and unit.thermal is not None:
                problems.append((("units", uname, "thermal"),
                                 f"a unit in thermal zone {zone!r} heats the zone's node; drop "
                                 "its own `thermal` or its `thermal_zone`"))
        if self.inputs_in is not None and self.inputs_in not in self.memories:
            problems.append((("inputs_in",), f"unknown memory {self.inputs_in!r}; this SoC has "
                             f"{known}"))
        for dname, engine in self.dma.items():
            for i, mem in enumerate(engine.connects):
                if mem not in self.memories:
                    problems.append((("dma", dname, "connects", i),
                                     f"unknown memory {mem!r}; this SoC has {known}"))
        return problems

    def thermal_of(self, unit: str) -> Thermal | None:
        """The RC node ``unit`` heats: its zone's, else its own (None: it stays at ambient)."""
        u = self.units[unit]
        return self.thermal_zones.get(u.thermal_zone) if u.thermal_zone else u.thermal

    def dma_between(self, src: str, dst: str) -> str | None:
        """The first DMA engine (declaration order) connecting memories ``src`` and ``dst``."""
        for name, engine in self.dma.items():
            if src in engine.connects and dst in engine.connects:
                return name
        return None
