"""The named zone masks of a landscape (icam.landscape.Zones.masks): the configured zones, then one mask per
administrative unit, made when asked for."""

from __future__ import annotations

import numpy as np
import pytest

from icam.landscape import Zones


def test_zone_masks_name_every_zone_and_unit_in_order():
    admin = np.array([[0, 1, 1], [2, 2, 0]], dtype=np.int32)
    project = np.array([[False, True, False], [False, False, False]])
    masks = Zones(project=project, admin_id=admin, admin_names=("Moyobamba", "Rioja")).masks()
    assert list(masks) == ["project_area", "admin:Moyobamba", "admin:Rioja"] and len(masks) == 3
    assert masks["project_area"] is project
    assert masks["admin:Rioja"].tolist() == [[False, False, False], [True, True, False]]
    assert "admin:Rioja" in masks and "leakage_belt" not in masks and "admin:Lamas" not in masks
    with pytest.raises(KeyError):
        masks["leakage_belt"]
    assert {name: m.sum() for name, m in masks.items()} == {"project_area": 1, "admin:Moyobamba": 2,
                                                            "admin:Rioja": 2}


def test_zone_masks_without_units():
    region = np.ones((2, 2), bool)
    masks = Zones(reference_region=region).masks()
    assert dict(masks) == {"reference_region": region}
