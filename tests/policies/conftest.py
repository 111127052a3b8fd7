"""Fixtures of the policy tests: the search SoC (tests/policies/search_soc.yaml) and the
six-op chain (:func:`tests.policies.graphs.chain6`). A module may define its own ``soc``."""

from __future__ import annotations

import pytest

from socsim.config import load_soc
from socsim.graph import load_graph
from tests.policies.graphs import SOC, chain6, save


@pytest.fixture(scope="module")
def soc():
    return load_soc(SOC)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return load_graph(save(chain6(), tmp_path_factory.mktemp("m"), "chain6"))
