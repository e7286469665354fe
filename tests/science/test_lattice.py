"""Lattice geometry shared by both generation backends: Miller-index text and the strain of a match."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from aiida_ifacerank.science.lattice import match_strain, miller_text, parse_miller


@pytest.mark.parametrize(
    ('miller', 'text'), [((0, 0, 1), '001'), ((1, -1, 0), '1-10'), ((-1, -1, 2), '-1-12'), ((1, -10, 0), '1,-10,0')]
)
def test_miller_text_round_trip(miller, text):
    assert miller_text(miller) == text
    assert parse_miller(text) == miller
    assert parse_miller(','.join(map(str, miller))) == miller


@pytest.mark.parametrize('text', ['01', '0011', '1,1', 'abc', '1,a,0', ''])
def test_bad_miller_text_is_refused(text):
    with pytest.raises(ValueError, match='not a Miller index'):
        parse_miller(text)


def test_strain_of_a_uniaxial_and_a_sheared_match_by_hand():
    upper = [[4.0, 0, 0], [0, 5.0, 0]]
    strain = match_strain(upper, [[4.2, 0, 0], [0, 5.0, 0]])
    assert strain['strain_11'] == pytest.approx(((4.2 / 4.0) ** 2 - 1) / 2)
    assert (strain['strain_22'], strain['strain_12'], strain['angle_strain']) == (0, 0, 0)
    assert strain['length_strain'] == pytest.approx(0.2 / 4.2)
    assert strain['area_ang2'] == pytest.approx(21.0)
    e = strain['strain_11']  # uniaxial (e, 0, 0): deviator (2e/3, -e/3, -e/3), von Mises sqrt(2/3 dev:dev) = 2e/3
    assert strain['von_mises_strain'] == pytest.approx(2 * abs(e) / 3)

    # the lower cell's b leans by 0.1 rad: F = [[1, sin 0.1], [0, cos 0.1]], so E_12 = sin(0.1)/2, E_11 = E_22 = 0
    sheared = match_strain([[4.0, 0, 0], [0, 4.0, 0]], [[4.0, 0, 0], [4.0 * np.sin(0.1), 4.0 * np.cos(0.1), 0]])
    assert sheared['strain_12'] == pytest.approx(np.sin(0.1) / 2)
    assert sheared['strain_11'] == pytest.approx(0.0, abs=1e-12)
    assert sheared['angle_strain'] == pytest.approx((np.pi / 2) / (np.pi / 2 - 0.1) - 1)
    assert sheared['strain_22'] == pytest.approx(0.0, abs=1e-12)


def test_strain_does_not_depend_on_the_frames_of_the_crystals():
    upper, lower = np.array([[3.9, 0.2, 0], [0.5, 4.1, 0]]), np.array([[3.84, 0, 0], [0, 3.84, 0]])
    turned = Rotation.from_euler('xyz', [0.3, -1.1, 2.0]).apply
    assert match_strain(turned(upper), turned(lower) @ np.eye(3)) == pytest.approx(match_strain(upper, lower))
    assert match_strain(turned(upper), lower) == pytest.approx(match_strain(upper, lower))
