import json

import pytest

from cyclegan_audio.errors import SpecError
from cyclegan_audio.spec import SPEC_FORMAT_VERSION, SpectrogramSpec


def test_defaults_give_512x512_tiles_and_four_per_20s_clip():
    s = SpectrogramSpec()
    assert s.tile_shape == (512, 512)
    assert s.n_frames(s.clip_samples) // s.tile_frames == 4
    assert 4.9 < s.tile_seconds < 5.1


def test_json_round_trip_and_version():
    """As manifest and checkpoint store it: to_dict through JSON and back."""
    s = SpectrogramSpec(sample_rate=16000, hop_length=160)
    data = json.loads(json.dumps(s.to_dict()))
    assert data["format_version"] == SPEC_FORMAT_VERSION
    assert SpectrogramSpec.from_dict(data) == s


def test_unknown_version_refused():
    d = SpectrogramSpec().to_dict()
    d["format_version"] = 99
    with pytest.raises(SpecError, match="format version 99"):
        SpectrogramSpec.from_dict(d)


def test_invalid_values_refused():
    with pytest.raises(SpecError):
        SpectrogramSpec(db_floor=0, db_ceiling=-10)


def test_diff_names_fields():
    assert SpectrogramSpec().diff(SpectrogramSpec(hop_length=200)) == ["hop_length: 215 != 200"]
